from pathlib import Path

import pytest

from raysynth.config import (
    ExperimentSpec,
    SpecError,
    load_spec,
    parse_spec,
    resolve_data_root,
    resolve_storage_path,
    resolve_work_dir,
)

REPO = Path(__file__).resolve().parent.parent
MINIMAL = "name: t\ndataset:\n  name: toy\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("spec_file", sorted((REPO / "search_spaces").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_specs_load(spec_file):
    assert isinstance(load_spec(spec_file), ExperimentSpec)


def test_misspelled_key_names_file_key_and_suggestion(tmp_path):
    path = write(tmp_path, MINIMAL + "grid:\n  real_fractoin: [0.5]\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    assert "grid.real_fractoin" in message
    assert "did you mean 'real_fraction'" in message


def test_unknown_top_level_key_lists_expected(tmp_path):
    with pytest.raises(SpecError, match=r"unknown key 'trian'.*did you mean 'train'"):
        load_spec(write(tmp_path, MINIMAL + "trian:\n  epochs: 3\n"))


def test_wrong_type_names_key_and_given_value(tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, MINIMAL + "train:\n  epochs: many\n"))
    assert "train.epochs" in str(info.value) and "'many'" in str(info.value)


def test_out_of_range_value_names_expected_and_given(tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, MINIMAL + "grid:\n  real_fraction: [0.5, 1.5]\n"))
    message = str(info.value)
    assert "grid.real_fraction" in message and "[0, 1]" in message and "1.5" in message


def test_yaml_syntax_error_gives_file_and_line(tmp_path):
    path = write(tmp_path, MINIMAL + "grid:\n  seed: [0, 1\n  strategy: label\n")
    with pytest.raises(SpecError, match=rf"{path}:\d+:\d+: YAML syntax error"):
        load_spec(path)


def test_missing_required_key():
    with pytest.raises(SpecError, match="missing key 'dataset'"):
        parse_spec({"name": "x"}, "inline")


def test_scalar_axis_becomes_list():
    spec = parse_spec({"name": "x", "dataset": {"name": "toy"}, "grid": {"seed": 3, "real_fraction": 0.5}})
    assert spec.grid.seed == [3] and spec.grid.real_fraction == [0.5]


def test_data_root_precedence_cli_then_spec_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSYNTH_DATA", str(tmp_path / "env"))
    spec = parse_spec({"name": "x", "dataset": {"name": "toy"}})
    assert resolve_data_root(spec) == tmp_path / "env"
    spec.paths.data_root = str(tmp_path / "spec")
    assert resolve_data_root(spec) == tmp_path / "spec"
    assert resolve_data_root(spec, str(tmp_path / "cli")) == tmp_path / "cli"


def test_work_dir_and_storage_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYSYNTH_WORK", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = parse_spec({"name": "x", "dataset": {"name": "toy"}})
    work = resolve_work_dir(spec)
    assert work == tmp_path / "raysynth_work"
    assert resolve_storage_path(spec, work) == str(work / "ray_results")
    assert resolve_storage_path(spec, work, "s3://bucket/results") == "s3://bucket/results"


def test_generator_axis_and_per_generator_values():
    spec = parse_spec(
        {
            "name": "g",
            "dataset": {"name": "toy"},
            "generation": {
                "generator": "audiogen",
                "model_id": "facebook/audiogen-medium",
                "dtype": "fp16",
                "per_generator": {"audioldm2": {"model_id": "cvssp/audioldm2-large", "steps": 50}},
            },
            "grid": {"generator": ["audiogen", "audioldm2", "musicgen"]},
        }
    )
    assert spec.generators() == ["audiogen", "audioldm2", "musicgen"]
    ldm = spec.generation.for_generator("audioldm2")
    assert (ldm.generator, ldm.model_id, ldm.steps, ldm.dtype) == (
        "audioldm2",
        "cvssp/audioldm2-large",
        50,
        "fp16",
    )
    # The model id given for audiogen does not leak into another backend.
    assert spec.generation.for_generator("musicgen").model_id is None
    assert spec.generation.for_generator("audiogen").model_id == "facebook/audiogen-medium"


def test_unknown_generator_on_the_axis_is_named_before_any_work(tmp_path):
    from raysynth.generators import GeneratorError
    from raysynth.inputs import resolve

    spec = parse_spec(
        {
            "name": "g",
            "dataset": {"name": "toy"},
            "grid": {"generator": ["audiogen", "audioldm"], "synth_multiplier": 1},
        }
    )
    with pytest.raises(
        GeneratorError, match="grid.generator audioldm: unknown generator 'audioldm'; registered"
    ):
        resolve(spec, None, tmp_path)
    spec = parse_spec(
        {"name": "g", "dataset": {"name": "toy"}, "generation": {"per_generator": {"musicgen": {"top_k": 5}}}}
    )
    with pytest.raises(GeneratorError, match="per_generator has 'musicgen', which is not a generator"):
        resolve(spec, None, tmp_path)
    bad_key = tmp_path / "s.yaml"
    bad_key.write_text(
        "name: g\ndataset: {name: toy}\ngeneration:\n  per_generator:\n    musicgen: {topk: 5}\n"
    )
    with pytest.raises(SpecError, match=r"generation.per_generator.musicgen.topk.*did you mean 'top_k'"):
        load_spec(bad_key)


def test_training_snr_range_is_a_grid_axis_that_trials_read():
    from types import SimpleNamespace

    from raysynth.config import parse_spec
    from raysynth.inputs.cells import trial_cells
    from raysynth.train.noise import training_snr

    spec = parse_spec(
        {
            "name": "snr_axis",
            "dataset": {"name": "toy"},
            "noise": {"directory": "noise", "train_snr_db": [3, 30]},
            "grid": {"noise_source": ["none", "real"], "train_snr_db": [[3, 30], [10, 30], [20, 30]]},
        }
    )
    cells = trial_cells(spec)
    assert [c["train_snr_db"] for c in cells] == [None, [3.0, 30.0], [10.0, 30.0], [20.0, 30.0]]
    context = SimpleNamespace(noise=SimpleNamespace(train_snr_db=(3.0, 30.0)))
    assert [training_snr(c, context) for c in cells[1:]] == [(3.0, 30.0), (10.0, 30.0), (20.0, 30.0)]
