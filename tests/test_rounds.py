"""Confusion-driven generation (grid.round [1, 2]): the allocation, the cells, the spec's refusals, and a
two-round sweep whose round-2 trials train on as many clips as round 1's, some of them new."""

from __future__ import annotations

import doctest
import json

import pytest

from raysynth.train import rounds
from raysynth.train.rounds import allocate, class_errors, split_counts


def test_the_allocation_doctests_hold():
    assert doctest.testmod(rounds).failed == 0


def test_one_rule_gives_a_trials_synthetic_counts_and_splits_off_the_silence_classes():
    from types import SimpleNamespace

    from raysynth.train import mixture

    assert doctest.testmod(mixture).failed == 0
    speech = SimpleNamespace(silence=("_silence_",))
    spoken, silence = mixture.synthetic_counts(0.5, {"yes": 5, "_silence_": 3, "no": 4}, [speech])
    assert spoken == {"yes": 3, "no": 2} and silence == {"_silence_": 2}


def test_the_most_confused_class_gets_the_most_clips_and_the_total_is_kept():
    classes = ["yes", "no", "up", "down"]
    # "no" and "down" are confused with each other on validation; "yes" and "up" are perfect.
    confusion = [[10, 0, 0, 0], [0, 4, 0, 6], [0, 0, 10, 0], [0, 5, 0, 5]]
    got = allocate(confusion, classes, classes, total=40, floor=0.0)
    assert sum(got.values()) == 40 and got["yes"] == got["up"] == 0 and got["no"] + got["down"] == 40
    even = allocate(confusion, classes, classes, total=40, floor=1.0)
    assert even == dict.fromkeys(classes, 10)
    some = allocate(confusion, classes, classes, total=40, floor=0.2)
    assert some["yes"] == some["up"] == 2 and sum(some.values()) == 40 and min(some["no"], some["down"]) > 10


def test_no_error_on_validation_gives_out_evenly_and_only_over_the_labels_asked():
    perfect = [[5, 0, 0], [0, 5, 0], [0, 0, 5]]
    assert allocate(perfect, ["a", "b", "c"], ["a", "c"], total=7, floor=0.0) == {"a": 4, "c": 3}
    assert class_errors([[0, 0], [3, 2]], ["a", "b"]) == {"a": 0.0, "b": 0.6}  # "a" has no clip: no rate
    with pytest.raises(ValueError, match="for 3 classes"):
        class_errors([[1, 0], [0, 1]], ["a", "b", "c"])


def test_split_counts_gives_up_the_share_rounded_down_per_class():
    keep, given = split_counts({"a": 5, "b": 4, "c": 1}, 0.5)
    assert keep == {"a": 3, "b": 2, "c": 1} and given == 4


def _spec(**grid):
    from raysynth.config import parse_spec

    return parse_spec({
        "name": "rounds", "dataset": {"name": "fsdd", "sample_rate": 8000},
        "generation": {"generator": "tts", "duration_s": 0.3},
        "train": {"epochs": 2, "num_threads": 1, "n_mels": 32, "batch_size": 16},
        "grid": {"real_fraction": 1.0, "synth_multiplier": [0, 1], **grid},
        "resources": {"cpus_per_trial": 1, "max_concurrent_trials": 1},
    })  # fmt: skip


def test_round_two_cells_are_the_synthetic_cells_again_and_real_only_ones_run_once():
    from raysynth.inputs import trial_cells

    cells = trial_cells(_spec(round=[1, 2]))
    assert sorted((c["synth_multiplier"], c["round"]) for c in cells) == [(0, 1), (1, 1), (1, 2)]
    assert all("round" not in c for c in trial_cells(_spec()))


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"round": [2]}, "needs round 1 beside it"),
        ({"round": [1, 2], "synth_multiplier": 0}, "every grid.synth_multiplier is 0"),
        ({"round": [1, 2], "quality_filter": ["none", "teacher_top_fraction:0.5"]}, "are not scored"),
    ],
)
def test_a_round_two_it_cannot_run_is_refused_in_the_spec(grid, message):
    from raysynth.config import SpecError

    with pytest.raises(SpecError, match=message):
        _spec(**grid)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_two_round_sweep_gives_round_two_clips_by_validation_confusions(ray_session, tmp_path):
    """Round 1, then round 2 from each round-1 trial's validation confusions: equal totals, new clips."""
    import pyarrow.dataset as pds

    from raysynth import storage
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.report import load
    from raysynth.sweep.rounds import run_rounds

    from conftest import fake_fsdd

    spec = _spec(round=[1, 2])
    resolved = resolve(spec, fake_fsdd(tmp_path / "data"), tmp_path / "work")
    inputs = ensure(resolved)
    lines: list[str] = []
    results = run_rounds(resolved, inputs, trial_context(resolved, inputs), str(tmp_path / "results"), "rounds",
                         say=lines.append)  # fmt: skip
    assert [r.experiment_dir.rsplit("/", 1)[1] for r in results] == ["rounds", "rounds-round2"]
    assert [(r.num_trials, r.num_errors) for r in results] == [(2, 0), (1, 0)]
    df = load(*(r.experiment_dir for r in results)).set_index("round")
    one = df[df["synth_multiplier"] == 1].loc[1]
    two = df.loc[2]
    assert two["num_synthetic"] == one["num_synthetic"] == 40 and two["num_real"] == one["num_real"]
    counts = json.loads(two["round2_counts"])
    confusion = json.loads(one["selected_valid_confusion"])  # validation, the round-1 trial's
    assert counts == allocate(confusion["counts"], confusion["classes"], confusion["classes"], 20, 0.1)
    assert two["synthetic_recipe"] == one["synthetic_recipe"] + "/round2"
    files = storage.list_files(resolved.generation[0].folder, storage.SHARD_GLOB)
    table = (
        pds.dataset(files, format="parquet").to_table(columns=["id", "seed", "label", "split"]).to_pylist()
    )
    second = [row for row in table if row["split"] == "round2"]
    first = [row for row in table if row["split"] == "train"]
    assert {label: sum(r["label"] == label for r in second) for label in counts if counts[label]} == {
        label: n for label, n in counts.items() if n
    }
    assert not {r["id"] for r in second} & {r["id"] for r in first}
    assert not {r["seed"] for r in second} & {r["seed"] for r in first}
    assert any("round 2: " in line for line in lines)


def test_the_sign_flip_p_is_the_exact_share_of_sign_patterns_at_least_as_extreme():
    import itertools

    import numpy as np

    from raysynth.report.paired import sign_flip_p

    diffs = np.array([0.03, 0.01, -0.005, 0.02, 0.015])
    flips = [np.mean(diffs * np.array(s)) for s in itertools.product([1, -1], repeat=len(diffs))]
    exact = np.mean([abs(f) >= abs(diffs.mean()) - 1e-12 for f in flips])
    assert sign_flip_p(diffs) == pytest.approx(exact)
    assert sign_flip_p(np.array([0.01, 0.02, 0.03])) == pytest.approx(0.25)  # n = 3: p is never below 0.25
    assert sign_flip_p(np.zeros(4)) == 1.0


def test_the_round_table_pairs_each_round_two_trial_with_its_own_round_one_trial():
    import pandas as pd

    from raysynth.report.paired import paired_table

    rows = [
        {"status": "completed", "real_fraction": rf, "synth_multiplier": 0.25, "fold": fold, "seed": 0,
         "round": r, "selected_test_acc": base + (0.02 if r == 2 else 0.0)}
        for rf in (0.0, 0.02) for fold, base in ((1, 0.5), (2, 0.7), (3, 0.9)) for r in (1, 2)
    ]  # fmt: skip
    rows.append({**rows[0], "round": 2, "fold": 4, "selected_test_acc": 0.0})  # no round-1 partner: left out
    table = paired_table(pd.DataFrame(rows), "round", 1, 2, "selected_test_acc").set_index("real_fraction")
    assert list(table["n pairs"]) == [3, 3]
    assert table["difference (points)"].tolist() == pytest.approx([2.0, 2.0])
    assert table.loc["0.0", "round 1"] == pytest.approx(0.7) and table["p (sign-flip)"].tolist() == [
        0.25,
        0.25,
    ]
