"""Every number the platform prints must mean what it says: one test per defect of issue 11.

Each test here failed on the code before its fix (the closing note of issue 11 lists them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch

from raysynth.config import TrainConfig, load_spec, parse_spec
from raysynth.inputs import resolve, trial_cells
from raysynth.inputs.stages import ensure_manifest, ensure_noise_manifest
from raysynth.inputs.synthetic import plan_job
from raysynth.testing import dummy_manifest, dummy_shard

from conftest import REPO_ROOT

NOISE_NAMES = [
    "doing_the_dishes",
    "dude_miaowing",
    "exercise_bike",
    "pink_noise",
    "running_tap",
    "white_noise",
]


def toy_spec(**generation):
    return parse_spec(
        {"name": "t", "dataset": {"name": "toy"}, "grid": {"synth_multiplier": 1},
         "generation": {"generator": "audioldm2", "tiny": True, **generation}}
    )  # fmt: skip


# --- 1. Clip identity covers everything that makes the clip -------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"generation": {"steps": 3}},
        {"generation": {"guidance": 2.0}},
        {"generation": {"scheduler": "ddim"}},
        {"generation": {"dtype": "bf16"}},
        {"generation": {"duration_s": 0.5}},
        {"generation": {"negative_prompt": "hum"}},
        {"generation": {"prompt_template": "a {label}"}},
        {"dataset": {"sample_rate": 8000}},
        {"dataset": {"clip_seconds": 0.5}},
        {"generation": {"generator": "audiogen", "top_k": 10}},
    ],
    ids=lambda c: next(iter(next(iter(c.values())))),
)
def test_defect1_clips_of_another_recipe_are_never_reused(tmp_path, change):
    base = {"name": "t", "dataset": {"name": "toy"}, "grid": {"synth_multiplier": 1},
            "generation": {"generator": "audioldm2", "tiny": True, "steps": 2}}  # fmt: skip
    if change.get("generation", {}).get("generator") == "audiogen":
        base["generation"] = {"generator": "audiogen", "tiny": True, "top_k": 20}
    other = {key: {**base.get(key, {}), **value} for key, value in change.items()}
    a, b, same = (resolve(parse_spec(s), None, tmp_path) for s in (base, {**base, **other}, base))
    manifest = ensure_manifest(a).manifest
    ids = [{row["id"] for row in plan_job(r.generation[0], manifest)} for r in (a, b, same)]
    assert ids[0] and not ids[0] & ids[1], "two specs that differ in one setting share clips"
    assert a.generation[0].folder != b.generation[0].folder
    assert ids[0] == ids[2] and a.generation[0].folder == same.generation[0].folder


def test_defect1_llm_descriptions_file_is_part_of_the_recipe(tmp_path):
    shipped = json.loads((REPO_ROOT / "raysynth" / "prompts" / "descriptions" / "toy.json").read_text())
    other = tmp_path / "mine.json"
    other.write_text(
        json.dumps({**shipped, "descriptions": {k: v[::-1] for k, v in shipped["descriptions"].items()}})
    )
    spec = {"name": "t", "dataset": {"name": "toy"}, "grid": {"synth_multiplier": 1, "strategy": "llm"},
            "generation": {"tiny": True}}  # fmt: skip
    a = resolve(parse_spec(spec), None, tmp_path)
    b = resolve(
        parse_spec({**spec, "generation": {"tiny": True, "descriptions": str(other)}}), None, tmp_path
    )
    assert a.generation[0].recipe_hash != b.generation[0].recipe_hash


# --- 2. Noise manifests are keyed by their full recipe --------------------------------------------


def noise_folder(folder: Path, names=NOISE_NAMES, seconds=3.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        rng = np.random.default_rng(i)
        sf.write(
            folder / f"{name}.wav",
            (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32),
            16000,
        )
    return folder


def test_defect2_noise_manifests_of_one_folder_name_never_collide(tmp_path):
    from raysynth.datasets import prepare

    first = noise_folder(tmp_path / "a" / "_background_noise_")
    second = noise_folder(tmp_path / "b" / "_background_noise_")
    one = prepare(f"noise:{first}", None, tmp_path / "w", test_files=["running_tap"], segment_seconds=1.0)
    two = prepare(
        f"noise:{second}",
        None,
        tmp_path / "w",
        test_files=["running_tap", "white_noise"],
        segment_seconds=1.0,
    )
    assert one.manifest != two.manifest
    splits = {
        r["label"]: r["split"] for r in pq.read_table(two.manifest, columns=["label", "split"]).to_pylist()
    }
    assert {k for k, v in splits.items() if v == "test"} == {"running_tap", "white_noise"}
    again = prepare(f"noise:{first}", None, tmp_path / "w", test_files=["running_tap"], segment_seconds=1.0)
    assert again.manifest == one.manifest and again.notes == ["manifest exists; not prepared again"]


# --- 3. Held-out test noise never reaches training ------------------------------------------------


def speech_commands_tree(root: Path, noise: Path) -> Path:
    """A Speech Commands corpus in its official layout, its background noise copied from ``noise``."""
    words, speakers = ["yes", "no", "up", "cat", "dog"], [f"{i:08x}" for i in range(8)]
    valid, test = [], []
    for w, word in enumerate(words):
        for s, speaker in enumerate(speakers):
            rel = f"{word}/{speaker}_nohash_0.wav"
            (root / word).mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(100 * w + s)
            sf.write(root / rel, (0.2 * rng.standard_normal(16000)).astype(np.float32), 16000)
            (valid if s == 6 else test if s == 7 else []).append(rel)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    shutil.copytree(noise, root / "_background_noise_")
    return root


def fsdd_tree(root: Path) -> Path:
    recordings = root / "recordings"
    recordings.mkdir(parents=True)
    for digit in range(10):
        for speaker in ("jackson", "theo"):
            for index in range(12):
                rng = np.random.default_rng(digit * 100 + index)
                sf.write(
                    recordings / f"{digit}_{speaker}_{index}.wav",
                    (0.2 * rng.standard_normal(2400)).astype(np.float32),
                    8000,
                )
    return root


def trial_inputs_are_clean(resolved) -> list[int]:
    """Build every cell's trial input; the leakage check inside raises on any held-out recording."""
    from raysynth.inputs import trial_context
    from raysynth.train import build_mixture
    from raysynth.train.mixture import noise_sources

    context = trial_context(resolved)
    held_out = noise_sources(context.noise_manifest)["test"]
    excluded = []
    for cell in resolved.cells:
        mixture = build_mixture(cell, context)
        table = pq.read_table(context.manifest, columns=["id", "source_id"]).to_pydict()
        source_of = dict(zip(table["id"], table["source_id"], strict=True))
        used = {source_of[i] for i in [*mixture.train.ids, *mixture.valid.ids]}
        assert not used & held_out, "a held-out test-noise recording is in a training or validation input"
        excluded.append(mixture.excluded)
    return excluded


@pytest.mark.parametrize("order", [("fsdd_noise", "speech_noise"), ("speech_noise", "fsdd_noise")])
def test_defect3_both_noise_specs_in_one_work_dir_never_train_on_their_test_noise(
    shared_data, tmp_path, order
):
    noise = shared_data / "noise_speech_commands" / "_background_noise_"
    data = tmp_path / "data"
    shutil.copytree(noise, data / "noise_speech_commands" / "_background_noise_")
    speech_commands_tree(data / "speech_commands", noise)
    fsdd_tree(data / "fsdd")
    excluded = {}
    for name in order:
        spec = load_spec(REPO_ROOT / "search_spaces" / f"{name}.yaml")
        if name == "speech_noise":  # CPU sizes; the noise study itself is unchanged
            spec = spec.model_copy(
                update={
                    "train": TrainConfig(backbone="cnn"),
                    "grid": spec.grid.model_copy(update={"noise_source": ["none", "real"], "seed": [0]}),
                }
            )
        resolved = resolve(spec, data, tmp_path / "work")
        ensure_manifest(resolved), ensure_noise_manifest(resolved)
        held = {
            r["label"]
            for r in pq.read_table(resolved.noise_manifest.path).to_pylist()
            if r["split"] == "test"
        }
        assert held == set(spec.noise.test_files)
        excluded[name] = trial_inputs_are_clean(resolved)
    assert all(e > 0 for e in excluded["speech_noise"]), "silence cut from the test noise must be left out"
    assert all(e == 0 for e in excluded["fsdd_noise"])


def test_defect3_leakage_check_refuses_a_test_recording_in_training():
    from raysynth.train.mixture import LeakageError, check_disjoint

    check_disjoint(
        {"train": {"a"}, "valid": {"b"}, "test": {"c"}, "train_noise": {"n1"}, "test_noise": {"n2"}}
    )
    with pytest.raises(LeakageError, match="test_noise data are also in train_noise"):
        check_disjoint({"train": {"a"}, "test": {"c"}, "train_noise": {"n1", "n2"}, "test_noise": {"n2"}})
    with pytest.raises(LeakageError, match="test data are also in train"):
        check_disjoint({"train": {"a", "c"}, "test": {"c"}})


# --- 4. Failed and unfinished trials are never hidden ---------------------------------------------


def fake_trial(root: Path, name: str, cell: dict, rows: list[dict], error: str | None = None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"cell": cell, "dataset": "toy", "backbone": "cnn"}))
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if error:
        (folder / "error.txt").write_text(f"Traceback (most recent call last):\n{error}\n")


def test_defect4_report_counts_completed_stopped_errored_unfinished_and_not_run(tmp_path):
    from raysynth.report import load, pivot, status_line, to_markdown

    exp = tmp_path / "exp"
    cells = [{"real_fraction": 1.0, "synth_multiplier": 0, "seed": s} for s in range(5)]
    epoch = lambda e, acc: {"epoch": e, "epochs_planned": 2, "selected_test_acc": acc}  # noqa: E731
    fake_trial(exp, "ok", cells[0], [epoch(1, 0.8), epoch(2, 0.9)])
    fake_trial(exp, "nan", cells[1], [epoch(1, 0.2), {"stopped_reason": "NaN loss: loss became nan"}])
    fake_trial(exp, "err", cells[2], [epoch(1, 0.1)], error="ValueError: boom")
    fake_trial(exp, "killed", cells[3], [epoch(1, 0.5)])
    (exp / "raysynth_inputs.json").write_text(json.dumps({"cells": cells, "spec": {}}))
    df = load(exp)
    assert sorted(df["status"]) == ["completed", "errored", "not run", "stopped", "unfinished"]
    line = status_line(df)
    assert (
        line.startswith("5 trial(s): 1 completed, 1 stopped (NaN loss")
        and "1 errored (ValueError: boom)" in line
    )
    stats = pivot(df, ["real_fraction"], [])
    assert (stats["mean"].item(), stats["count"].item(), stats["planned"].item()) == (0.9, 1, 5)
    assert "note: real_fraction=1.0: 1 of 5 planned trials completed" in to_markdown(
        stats, ["real_fraction"], []
    )


# --- 5. Axes that do not apply never inflate n; seeds draw their own synthetic clips ---------------


def test_defect5_inapplicable_axes_collapse_and_seeds_redraw(tmp_path):
    spec = parse_spec({"name": "t", "dataset": {"name": "toy"}, "generation": {"tiny": True},
                       "grid": {"synth_multiplier": [0, 1], "strategy": ["label", "llm"],
                                "generator": ["audiogen", "musicgen"], "seed": [0, 1]}})  # fmt: skip
    cells = trial_cells(spec)
    real_only = [c for c in cells if c["synth_multiplier"] == 0]
    assert len(real_only) == 2 and {c["seed"] for c in real_only} == {0, 1}  # one per seed, not 2 x 2 copies
    assert all(c["strategy"] is None and c["generator"] is None for c in real_only)
    assert len(cells) == 2 + 2 * 2 * 2
    job = resolve(spec, None, tmp_path).generation[0]
    assert len(job.draws) == 2  # each seed trains on its own synthetic draw
    rows = plan_job(job, ensure_manifest(resolve(spec, None, tmp_path)).manifest)
    by_draw = {d: {r["id"] for r in rows if r["draw_seed"] == d} for d in job.draws}
    assert not set.intersection(*by_draw.values())


# --- 6. The paper's specs run the paper's protocol; ignored keys are errors -------------------------


def test_defect6_paper_specs_use_ssast_and_ignored_train_keys_are_errors():
    from raysynth.config import SpecError

    for name in ("esc50_zero_shot", "esc50_mixed", "gtzan_musicgen", "ucf101_zero_shot"):
        spec = load_spec(REPO_ROOT / "search_spaces" / f"{name}.yaml")
        assert spec.train.backbone == "ssast" and spec.train.checkpoint_path, name
    assert (
        "(3 of the 5 folds: 24 per class)"
        in (REPO_ROOT / "search_spaces" / "esc50_zero_shot.yaml").read_text()
    )
    with pytest.raises(SpecError, match="train.backbone ast ignores n_mels"):
        parse_spec({"name": "t", "dataset": {"name": "toy"}, "train": {"backbone": "ast", "n_mels": 128}})
    with pytest.raises(SpecError, match="train.backbone cnn ignores model_id"):
        parse_spec({"name": "t", "dataset": {"name": "toy"}, "train": {"model_id": "x"}})


# --- 7. Zero-shot validation comes on top of the training budget ---------------------------------


def test_defect7_zero_shot_trains_on_all_of_m_times_n(tmp_path):
    from raysynth.train import SyntheticSource, TrialContext, build_mixture

    manifest = dummy_manifest(tmp_path / "m.parquet", per_split={"train": 10, "valid": 2, "test": 3})
    dummy_shard(tmp_path / "s" / "part-0.parquet", clips_per_class=20, valid_per_class=5)
    train = TrainConfig(epochs=1, synthetic_valid_per_class=5)
    context = TrialContext(
        str(manifest),
        16000,
        1.0,
        train,
        synthetic=(SyntheticSource(str(tmp_path / "s"), "dummy", "dummy", "label"),),
    )
    mixture = build_mixture(
        {"real_fraction": 0.0, "synth_multiplier": 2, "strategy": "label", "seed": 0}, context
    )
    assert mixture.num_synthetic == 4 * 2 * 10 and len(mixture.valid) == 4 * 5
    assert not set(mixture.valid.ids) & set(mixture.train.ids)
    spec = parse_spec({"name": "t", "dataset": {"name": "toy"}, "generation": {"tiny": True},
                       "grid": {"real_fraction": 0.0, "synth_multiplier": 1}})  # fmt: skip
    job = resolve(spec, None, tmp_path / "w").generation[0]
    rows = plan_job(job, ensure_manifest(resolve(spec, None, tmp_path / "w")).manifest)
    assert (
        sum(r["split"] == "valid" for r in rows) == 4 * 10
        and sum(r["split"] == "train" for r in rows) == 4 * 10
    )


# --- 8. Whisper pools over the clip, not its padding ----------------------------------------------


def test_defect8_whisper_pools_over_the_frames_of_the_clip():
    from raysynth.train.models import build_classifier

    model = build_classifier(TrainConfig(backbone="whisper", tiny=True), 3).eval()
    waves = (0.1 * np.random.default_rng(0).standard_normal((2, 8000))).astype(
        np.float32
    )  # 0.5 s in a 1 s window
    features = model.features(waves)
    with torch.no_grad():
        hidden = model.encoder(input_features=features).last_hidden_state
        torch.testing.assert_close(model.embed(features), hidden[:, :25].mean(dim=1))


# --- 9. SSAST from the official checkpoint's names; AudioGen through get_pretrained --------------


def official_ssast_state(dim=16, depth=2, hidden=32, patches=8) -> dict[str, torch.Tensor]:
    """Key names and shapes of an official SSAST pre-training checkpoint (``ASTModel`` of
    YuanGongND/ssast ``src/models/ast_models.py``, saved from ``torch.nn.DataParallel``): the timm
    DeiT encoder under ``module.v.``, its class and distillation heads, the pre-training heads."""
    g = torch.Generator().manual_seed(0)
    shapes = {"v.cls_token": (1, 1, dim), "v.dist_token": (1, 1, dim), "v.pos_embed": (1, patches + 2, dim),
              "v.patch_embed.proj.weight": (dim, 1, 16, 16), "v.patch_embed.proj.bias": (dim,),
              "v.norm.weight": (dim,), "v.norm.bias": (dim,), "v.head.weight": (1000, dim), "v.head.bias": (1000,),
              "v.head_dist.weight": (1000, dim), "v.head_dist.bias": (1000,), "p_input_fdim": (), "p_input_tdim": (),
              "mask_embed": (1, 1, dim)}  # fmt: skip
    for head in ("cpredlayer", "gpredlayer"):
        shapes |= {
            f"{head}.0.weight": (dim, dim),
            f"{head}.0.bias": (dim,),
            f"{head}.2.weight": (256, dim),
            f"{head}.2.bias": (256,),
        }
    for i in range(depth):
        b = f"v.blocks.{i}"
        shapes |= {f"{b}.norm1.weight": (dim,), f"{b}.norm1.bias": (dim,), f"{b}.attn.qkv.weight": (3 * dim, dim),
                   f"{b}.attn.qkv.bias": (3 * dim,), f"{b}.attn.proj.weight": (dim, dim), f"{b}.attn.proj.bias": (dim,),
                   f"{b}.norm2.weight": (dim,), f"{b}.norm2.bias": (dim,), f"{b}.mlp.fc1.weight": (hidden, dim),
                   f"{b}.mlp.fc1.bias": (hidden,), f"{b}.mlp.fc2.weight": (dim, hidden), f"{b}.mlp.fc2.bias": (dim,)}  # fmt: skip
    return {f"module.{k}": torch.randn(s, generator=g) for k, s in shapes.items()}


def test_defect9_ssast_official_checkpoint_keys_map_and_the_rest_is_dropped_by_name():
    from raysynth.train.models.ssast import ast_key_scheme, build_ssast, dropped_reason, map_ssast_state_dict

    state = official_ssast_state()
    model = build_ssast(3, tiny=True, state=state)  # strict: every encoder key used, none missing
    dropped = sorted(k.removeprefix("module.") for k in state if dropped_reason(k))
    assert dropped == sorted(["v.head.weight", "v.head.bias", "v.head_dist.weight", "v.head_dist.bias",
                              "p_input_fdim", "p_input_tdim", "mask_embed", *(f"{h}.{i}.{k}" for h in ("cpredlayer", "gpredlayer") for i in (0, 2) for k in ("weight", "bias"))])  # fmt: skip
    mapped = map_ssast_state_dict(state, ast_key_scheme(set(model.encoder.state_dict())))
    qkv = state["module.v.blocks.1.attn.qkv.weight"]
    query = next(
        v
        for k, v in mapped.items()
        if k.startswith(("layers.1.", "encoder.layer.1.")) and ("q_proj.weight" in k or "query.weight" in k)
    )
    torch.testing.assert_close(query, qkv[:16])  # timm stacks q, k, v in that order
    torch.testing.assert_close(model.encoder.embeddings.distillation_token, state["module.v.dist_token"])


def test_defect9_tiny_audiogen_loads_back_through_get_pretrained(tmp_path):
    from audiocraft.models import AudioGen

    from raysynth.config import GenerationConfig
    from raysynth.generators import build_generator
    from raysynth.generators.audiogen import audiogen_config, build_tiny_audiogen, export_audiogen

    export_audiogen(build_tiny_audiogen(seed=0), audiogen_config(), tmp_path / "audiogen")
    assert sorted(p.name for p in (tmp_path / "audiogen").iterdir()) == [
        "compression_state_dict.bin",
        "state_dict.bin",
    ]
    assert isinstance(AudioGen.get_pretrained(str(tmp_path / "audiogen"), device="cpu"), AudioGen)
    loaded = build_generator(GenerationConfig(model_id=str(tmp_path / "audiogen"), top_k=20))
    tiny = build_generator(GenerationConfig(tiny=True, top_k=20))
    np.testing.assert_array_equal(
        loaded.generate(["dog bark"], [7], 0.5)[0], tiny.generate(["dog bark"], [7], 0.5)[0]
    )


# --- What the tests and checks claim ---------------------------------------------------------------


def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    from raysynth.train.metrics import classification_metrics

    rng = np.random.default_rng(0)
    cases = [(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 2]))]  # class 2 predicted, never a target
    cases += [(rng.integers(0, 5, 40), rng.integers(0, 5, 40)) for _ in range(20)]
    cases += [(rng.integers(0, 3, 12), rng.integers(2, 5, 12))]
    for targets, predictions in cases:
        ours = classification_metrics(targets, predictions, 5)
        labels = list(range(5))
        assert ours["acc"] == pytest.approx(accuracy_score(targets, predictions))
        assert ours["macro_f1"] == pytest.approx(
            f1_score(targets, predictions, average="macro", zero_division=0)
        )
        assert ours["precision"] == pytest.approx(
            precision_score(targets, predictions, labels=labels, average=None, zero_division=0).tolist()
        )
        assert ours["recall"] == pytest.approx(
            recall_score(targets, predictions, labels=labels, average=None, zero_division=0).tolist()
        )
        assert ours["confusion"] == confusion_matrix(targets, predictions, labels=labels).tolist()


def test_ci_run_fails_when_pytest_collects_nothing(tmp_path):
    """``.ci/run`` passes pytest's exit code through: "no tests collected" (5) fails CI."""
    import subprocess

    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, body in {"python3": "exit 0", "uv": "exit 5", "chromium": "exit 0"}.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    result = subprocess.run(["bash", str(REPO_ROOT / ".ci" / "run")], env={"PATH": f"{stubs}:/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 5, result.stdout + result.stderr


def test_ci_requires_every_e2e_test_to_run():
    from conftest import e2e_problems

    class Report:
        def __init__(self, nodeid, e2e):
            self.nodeid, self.keywords = nodeid, {"e2e": 1} if e2e else {}

    passed = [Report("tests/a.py::e2e_one", True), Report("tests/a.py::unit", False)]
    assert e2e_problems({"passed": passed}, []) == []
    skipped = {"passed": passed, "skipped": [Report("tests/b.py::e2e_two", True)]}
    assert e2e_problems(skipped, []) == ["e2e test skipped: tests/b.py::e2e_two"]
    assert e2e_problems({"passed": passed}, ["tests/c.py::e2e_three"]) == [
        "e2e test deselected: tests/c.py::e2e_three"
    ]
    assert e2e_problems({"passed": passed[1:]}, []) == ["no end-to-end (e2e) test passed"]


# --- Options never dropped without a word -----------------------------------------------------------


def test_a_recipe_option_the_recipe_does_not_take_is_an_error(tmp_path):
    from raysynth.datasets import DatasetError, prepare

    with pytest.raises(
        DatasetError, match="dataset 'toy' does not take the option\\(s\\) seed; it takes no options"
    ):
        prepare("toy", None, tmp_path, seed=3)
    with pytest.raises(
        DatasetError, match="does not take the option\\(s\\) split_list; it takes .*test_files"
    ):
        prepare(f"noise:{tmp_path}", None, tmp_path, split_list=2)


def test_audiogen_per_clip_sampling_never_falls_back_to_a_shared_generator():
    from audiocraft.utils import utils as audiocraft_utils

    from raysynth.generators.audiogen import per_clip_sampling

    with per_clip_sampling([1, 2], "cpu"):
        assert audiocraft_utils.multinomial(torch.ones(2, 3, 5) / 5, 1).shape == (2, 3, 1)
        with pytest.raises(RuntimeError, match="per-clip sampling expected 2 rows"):
            audiocraft_utils.multinomial(torch.ones(3, 5) / 5, 1)


def test_a_bug_is_not_reported_as_bad_input(tmp_path):
    """``run_main`` turns only the project's input errors into exit 2; a KeyError is a bug with a traceback."""
    import subprocess
    import sys

    script = "from raysynth.cli import run_main\ndef main():\n    return {}['missing']\nrun_main(main)\n"
    bug = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'missing'" in bug.stderr
    script = "from raysynth.cli import run_main\nfrom raysynth.datasets import get_recipe\nrun_main(lambda: get_recipe('esc51'))\n"
    bad = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (
        bad.returncode == 2
        and bad.stderr.startswith("error: unknown dataset 'esc51'")
        and "Traceback" not in bad.stderr
    )


def test_the_smoke_preset_ships_in_the_wheel(tmp_path):
    import zipfile

    from hatchling.builders.wheel import WheelBuilder

    wheel = next(iter(WheelBuilder(str(REPO_ROOT)).build(directory=str(tmp_path), versions=["standard"])))
    names = zipfile.ZipFile(wheel).namelist()
    assert "raysynth/presets/smoke.yaml" in names
    from raysynth.cli import smoke_spec

    assert smoke_spec().read_text() == zipfile.ZipFile(wheel).read("raysynth/presets/smoke.yaml").decode()


def test_downloads_unpack_aside_and_mark_completion(tmp_path, monkeypatch):
    import zipfile

    from raysynth.datasets import DatasetError, download

    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("corpus-main/recordings/a.wav", b"RIFF")
    monkeypatch.setattr(
        download, "download_file", lambda url, target, timeout=60.0: shutil.copy(archive, target) and target
    )

    def broken_extract(archive, target):
        (target / "half").mkdir(parents=True)
        raise DatasetError("the connection dropped mid-archive")

    monkeypatch.setattr(download, "safe_extract", broken_extract)
    with pytest.raises(DatasetError, match="mid-archive"):
        download.download_and_extract("http://x/corpus.zip", tmp_path / "data", "corpus")
    assert not (tmp_path / "data" / "corpus").exists() and not list((tmp_path / "data").iterdir())
    monkeypatch.undo()
    monkeypatch.setattr(
        download, "download_file", lambda url, target, timeout=60.0: shutil.copy(archive, target) and target
    )
    corpus = download.download_and_extract(
        "http://x/corpus.zip", tmp_path / "data", "corpus", keep="**/recordings"
    )
    assert download.is_complete(corpus) and (corpus / "recordings" / "a.wav").is_file()
    (tmp_path / "data" / "other").mkdir()
    (tmp_path / "data" / "other" / "leftover.wav").write_text("x")
    with pytest.raises(DatasetError, match="not a completed download"):
        download.download_and_extract("http://x/corpus.zip", tmp_path / "data", "other")
