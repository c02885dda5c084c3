"""Numbers that hold up: no other run's trials mixed into an experiment (each case failed on the code
before its fix)."""

import json

from conftest import run_sweep_job

SPEC = "name: probe\ndataset: {name: toy}\ntrain: {epochs: 2}\ngrid: {seed: [0]}\n"


def test_a_second_run_under_a_taken_name_is_refused(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "probe.yaml"
    spec.write_text(SPEC)
    (tmp_path / "results" / "mine").mkdir(parents=True)
    args = [
        "--config",
        str(spec),
        "--work-dir",
        str(tmp_path / "w"),
        "--storage-path",
        str(tmp_path / "results"),
    ]
    assert run_sweep_job([*args, "--name", "mine"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "experiment mine already exists" in err and "--resume" in err and err.count("\n") == 1, err


def test_resume_with_an_edited_spec_is_refused_naming_what_changed(tmp_path, monkeypatch, capsys):
    from raysynth.config import load_spec

    spec = tmp_path / "probe.yaml"
    spec.write_text(SPEC)
    folder = tmp_path / "results" / "mine"
    folder.mkdir(parents=True)
    (folder / "raysynth_inputs.json").write_text(
        json.dumps({"spec": load_spec(spec).model_dump(mode="json")})
    )
    spec.write_text(SPEC.replace("epochs: 2", "epochs: 27").replace("seed: [0]", "seed: [0, 1]"))
    args = [
        "--config",
        str(spec),
        "--work-dir",
        str(tmp_path / "w"),
        "--storage-path",
        str(tmp_path / "results"),
    ]
    assert run_sweep_job([*args, "--name", "mine", "--resume"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert (
        "experiment mine" in err and "grid.seed" in err and "train.epochs" in err and err.count("\n") == 1
    ), err


def test_resume_with_the_same_spec_passes_the_check(tmp_path):
    from raysynth.config import load_spec
    from raysynth.sweep.target import check_target

    spec = tmp_path / "probe.yaml"
    spec.write_text(SPEC)
    folder = tmp_path / "mine"
    folder.mkdir()
    recorded = load_spec(spec).model_dump(mode="json")
    (folder / "raysynth_inputs.json").write_text(json.dumps({"spec": recorded}))
    check_target(str(folder), "mine", load_spec(spec).model_dump(mode="json"), True, True)
