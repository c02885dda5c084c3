"""Chaos, report side: corrupt trial files are named, skipped and counted; a NaN is never the best."""

import json
import os

import pytest

from raysynth.report import load, pivot, status_line, to_markdown


def experiment(root, accs):
    """Two cells (real_fraction 0.5 and 1.0) × seeds, as Tune writes them, with the run's record."""
    cells = []
    for i, (fraction, seed, acc) in enumerate(accs):
        cell = {"real_fraction": fraction, "synth_multiplier": 0.0, "seed": seed}
        cells.append(cell)
        trial = root / f"_trainable_{i:05d}"
        trial.mkdir(parents=True)
        (trial / "params.json").write_text(json.dumps({"cell": cell, "dataset": "toy", "backbone": "cnn"}))
        row = {"epoch": 2, "epochs_planned": 2, "selected_test_acc": acc, "selected_valid_acc": acc}
        (trial / "result.json").write_text(json.dumps(row) + "\n")
    spec = {"dataset": {"name": "toy"}, "train": {"backbone": "cnn"}}
    (root / "raysynth_inputs.json").write_text(json.dumps({"spec": spec, "cells": cells}))
    return root


TRIALS = [(0.5, 0, 0.6), (0.5, 1, 0.7), (1.0, 0, 0.5), (1.0, 1, 0.55)]


@pytest.mark.parametrize("damage", ["random bytes in params.json", "random bytes in result.json"])
def test_a_corrupt_trial_file_is_named_skipped_and_counted(tmp_path, damage):
    exp = experiment(tmp_path / "exp", TRIALS)
    name = "params.json" if "params" in damage else "result.json"
    (exp / "_trainable_00001" / name).write_bytes(os.urandom(300) + b"\xff\xfe{")
    df = load(exp)
    bad = df[df["status"] == "not readable"]
    assert len(bad) == 1 and name in bad["status_reason"].iloc[0]
    assert "_trainable_00001" in bad["trial"].iloc[0]
    line = status_line(df)
    assert "1 not readable" in line and "3 completed" in line
    stats = pivot(df, ["real_fraction"], [])
    half = stats[stats.real_fraction == 0.5].iloc[0]
    assert half["count"] == 1 and half["mean"] == pytest.approx(0.6)


def test_an_empty_result_file_never_makes_a_nan_cell_the_best(tmp_path):
    exp = experiment(tmp_path / "exp", [(0.5, 0, 0.6), (1.0, 0, 0.9)])
    (exp / "_trainable_00001" / "result.json").write_text("")  # truncated after it reported:
    (exp / "_trainable_00001" / "checkpoint_000001").mkdir()
    df = load(exp)
    assert df.set_index("trial").loc["_trainable_00001", "status"] == "not readable"
    assert "result.json" in df.set_index("trial").loc["_trainable_00001", "status_reason"]
    md = to_markdown(pivot(df, ["real_fraction"], []), ["real_fraction"], [])
    assert "**0.600 (n=1)**" in md  # the only completed cell is the best; the empty one is not
    assert "nan" not in md.lower()


def test_an_empty_result_file_without_a_checkpoint_is_a_trial_that_never_reported(tmp_path):
    exp = experiment(tmp_path / "exp", [(0.5, 0, 0.6), (1.0, 0, 0.9)])
    (exp / "_trainable_00001" / "result.json").write_text("")
    assert load(exp).set_index("trial").loc["_trainable_00001", "status"] == "unfinished"
