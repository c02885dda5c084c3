"""Numbers that hold up: no other run's trials mixed into an experiment (each case failed on the code
before its fix)."""

import json

import pytest

from conftest import run_sweep_job

SPEC = "name: probe\ndataset: {name: toy}\ntrain: {epochs: 2}\ngrid: {seed: [0]}\n"


def job_args(tmp_path, spec):
    """jobs/sweep.py's arguments for ``spec``, with its work dir and results under ``tmp_path``."""
    return [
        "--config",
        str(spec),
        "--work-dir",
        str(tmp_path / "w"),
        "--storage-path",
        str(tmp_path / "results"),
    ]


def test_a_second_run_under_a_taken_name_is_refused(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "probe.yaml"
    spec.write_text(SPEC)
    (tmp_path / "results" / "mine").mkdir(parents=True)
    args = job_args(tmp_path, spec)
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
    args = job_args(tmp_path, spec)
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


def test_a_shard_copied_under_a_second_name_changes_no_training_clip(tmp_path, capsys):
    import shutil

    from raysynth.testing import TOY_LABELS, dummy_shard
    from raysynth.train.data import load_synthetic

    dummy_shard(tmp_path / "part-0.parquet", clips_per_class=6)
    counts = {label: 6 for label in TOY_LABELS}
    before = load_synthetic(tmp_path, "dummy", 0, counts).column("id").to_pylist()
    shutil.copy(tmp_path / "part-0.parquet", tmp_path / "part-0-copy.parquet")
    after = load_synthetic(tmp_path, "dummy", 0, counts).column("id").to_pylist()
    assert after == before and len(after) == len(set(after)) == 6 * len(TOY_LABELS)
    err = capsys.readouterr().err
    assert "24 duplicate clip id(s)" in err and "part-0-copy.parquet" in err, err


def test_scoring_lists_each_clip_once_when_a_shard_is_copied(tmp_path):
    import shutil

    from raysynth.quality.scoring import ScoreJob, training_ids
    from raysynth.testing import dummy_shard

    dummy_shard(tmp_path / "part-0.parquet", clips_per_class=3)
    shutil.copy(tmp_path / "part-0.parquet", tmp_path / "part-1.parquet")
    job = ScoreJob("teacher", shards=str(tmp_path), recipe="dummy", folder=str(tmp_path / "s"),
                   sample_rate=16000, num_samples=16000)  # fmt: skip
    ids = training_ids(job)
    assert len(ids) == len(set(ids)) == 3 * 4


def test_spearman_p_at_four_cells_is_the_exact_permutation_p():
    """rho -0.80 over 4 cells: 8 of the 24 orderings are as extreme, p = 1/3 (scipy's t approximation
    says 0.2)."""
    import pandas as pd

    from raysynth.report.quality import fad_correlation

    cells = pd.DataFrame({"fad": [1.0, 2.0, 3.0, 4.0], "acc": [0.4, 0.2, 0.3, 0.1]})
    rho, n, sentence = fad_correlation(cells, "acc")
    assert rho == pytest.approx(-0.8) and n == 4
    assert "p = 0.33" in sentence and "exact" in sentence, sentence


def test_a_small_real_only_cell_gets_the_step_budget_the_spec_asks_for(tmp_path):
    """2 real clips per class, batch 64: 1 optimiser step per pass, so 3 epochs would be 3 steps;
    ``train.min_steps: 24`` gives each of the 3 epochs 8 passes (24 steps), and every epoch reports
    its steps. (It once gave 24 epochs of 1 step each: a small cell was then evaluated, and could be
    selected, 8 times as often as a large one, and took 33 minutes in fsdd_tts_mixed.)"""
    from raysynth.config import TrainConfig
    from raysynth.testing import dummy_manifest
    from raysynth.train import TrialContext, run_trial

    manifest = dummy_manifest(
        tmp_path / "toy" / "manifest.parquet", per_split={"train": 2, "valid": 2, "test": 2}
    )
    train = TrainConfig(epochs=3, batch_size=64, n_mels=32, min_steps=24)
    reports = []
    last = run_trial({"real_fraction": 1.0, "synth_multiplier": 0, "strategy": None, "seed": 0},
                     TrialContext(str(manifest), 16000, 1.0, train), lambda m, s: reports.append(m))  # fmt: skip
    assert len(reports) == 3 and last["epochs_planned"] == 3
    assert [r["steps"] for r in reports] == [8, 16, 24]


def test_without_a_step_budget_a_trial_trains_its_epochs(tmp_path):
    from raysynth.config import TrainConfig
    from raysynth.testing import dummy_manifest
    from raysynth.train import TrialContext, run_trial

    manifest = dummy_manifest(
        tmp_path / "toy" / "manifest.parquet", per_split={"train": 2, "valid": 2, "test": 2}
    )
    reports = []
    run_trial({"real_fraction": 1.0, "synth_multiplier": 0, "strategy": None, "seed": 0},
              TrialContext(str(manifest), 16000, 1.0, TrainConfig(epochs=3, batch_size=4, n_mels=32)),
              lambda m, s: reports.append(m))  # fmt: skip
    assert [r["steps"] for r in reports] == [2, 4, 6]  # 8 clips, batch 4


def _trials(rows):
    import pandas as pd

    base = {"status": "completed", "generator": None, "strategy": None, "variant": None, "quality_filter": None,
            "train_snr_db": None, "backbone": "cnn", "precision/a": 1.0, "precision/b": 1.0}  # fmt: skip
    return pd.DataFrame([{**base, **row} for row in rows])


def test_the_real_equivalent_reads_only_a_real_only_curve_trained_as_the_cell_was():
    """Real-only trials all trained with noise: a synthetic cell trained without noise has no curve to
    read (refused), the cell trained with noise reads that curve, and each line names its curve."""
    from raysynth.report.equivalent import describe, equivalent_table

    real = [{"real_fraction": f, "synth_multiplier": 0, "num_real": 2 * n, "noise_source": "real",
             "train_snr_db": [0, 20], "selected_test_acc": acc}
            for f, n, acc in [(0.1, 2, 0.3), (0.5, 10, 0.6), (1.0, 20, 0.9)]]  # fmt: skip
    synth = [{"real_fraction": 0.0, "synth_multiplier": 1, "num_real": 0, "generator": "tts", "noise_source": source,
              "train_snr_db": snr, "selected_test_acc": 0.6} for source, snr in [("none", None), ("real", [0, 20])]]  # fmt: skip
    table = equivalent_table(_trials(real + synth))
    by_source = {row["noise_source"]: row for _, row in table.iterrows()}
    assert by_source["real"]["real_equivalent"] == pytest.approx(10.0)
    assert (
        by_source["none"]["real_equivalent"] is None
        or by_source["none"]["real_equivalent"] != by_source["none"]["real_equivalent"]
    )
    lines = describe(table, "selected_test_acc")
    (none_line,) = [line for line in lines if "noise_source=none" in line]
    assert "no real-only trials" in none_line, lines
    (real_line,) = [line for line in lines if "noise_source=real" in line]
    assert "real-only curve: noise_source=real" in real_line, lines


def test_a_teacher_trains_on_the_trials_own_nested_real_subset(tmp_path):
    """A teacher-filtered cell at real_fraction 0.5 is scored by a teacher of its own half of the
    real training split (per fold, fraction and seed), not of all of it."""
    from raysynth.cli import smoke_spec
    from raysynth.config import load_spec
    from raysynth.inputs import resolve
    from raysynth.quality.teacher import TeacherPlan, train_teacher
    from raysynth.testing import dummy_manifest

    plans = resolve(load_spec(smoke_spec()), None, tmp_path / "work").teachers
    assert sorted((p.real_fraction, p.seed) for p in plans) == [(0.5, 0), (1.0, 0)]
    assert len({p.path for p in plans}) == 2
    manifest = dummy_manifest(
        tmp_path / "toy" / "manifest.parquet", per_split={"train": 10, "valid": 2, "test": 2}
    )
    half = TeacherPlan(str(tmp_path / "t.pt"), str(manifest), None, 16000, 1.0, 32, 1, real_fraction=0.5)
    assert train_teacher(half)["clips"] == 4 * 5


def _edit_manifest(path, edit):
    """Rewrite a manifest's rows through ``edit`` (a dict of columns), keeping its schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = table.to_pydict()
    edit(columns)
    pq.write_table(pa.Table.from_pydict(columns, schema=table.schema), path)


@pytest.mark.parametrize("consistent", [False, True])
def test_a_hand_edited_manifest_is_refused_saying_to_prepare_again(tmp_path, consistent):
    """One row's label changed (alone, or with its label_id so the pairs still agree): the class list
    or the recorded content hash no longer matches, and every reader says so."""
    from raysynth.datasets import DatasetError
    from raysynth.testing import dummy_manifest
    from raysynth.train.data import load_real

    manifest = dummy_manifest(tmp_path / "toy" / "manifest.parquet")
    load_real(manifest, 1.0, 0)  # as prepared: fine

    def relabel(columns):
        row = columns["label"].index("beep")
        columns["label"][row] = "chirp"
        if consistent:
            columns["label_id"][row] = columns["label_id"][columns["label"].index("chirp")]

    _edit_manifest(manifest, relabel)
    with pytest.raises(DatasetError, match="prepare it again"):
        load_real(manifest, 1.0, 0)


def test_a_class_with_no_clip_keeps_every_output_in_place_and_is_named(tmp_path, capsys):
    """A corpus folder with one empty class (label ids 0, 1, 3 of 4). Before, the class list came from
    the rows: 3 classes for label ids up to 3, so a model of 3 outputs and an IndexError in training."""
    from raysynth.testing import TOY_LABELS, dummy_manifest
    from raysynth.train.data import load_real

    manifest = dummy_manifest(tmp_path / "toy" / "manifest.parquet", labels=TOY_LABELS, skip_label_ids=(2,))
    real = load_real(manifest, 1.0, 0)
    assert real.class_names == list(TOY_LABELS)
    assert max(real.train.column("label_id").to_pylist()) < len(real.class_names)
    assert f"'{TOY_LABELS[2]}' have no recording" in capsys.readouterr().err
