"""What each accuracy point costs: nested clips shared fairly, gains against the real-only baseline."""

import pandas as pd
import pytest

from raysynth.report.cost import cost_cells, shared_seconds


def test_nested_clips_are_charged_once_shared_among_the_trials_that_read_them():
    df = pd.DataFrame({
        "synthetic_recipe": ["r", "r", "s"], "draw_seed": [0, 0, 0],
        "gen_clips": [10, 30, 5], "gen_seconds": [10.0, 30.0, 50.0],
    })  # fmt: skip
    shared = shared_seconds(df, "gen_seconds").tolist()
    assert shared == pytest.approx([5.0, 25.0, 50.0])  # 1 s a clip; the first 10 read by both
    assert sum(shared[:2]) == pytest.approx(30.0)  # recipe r's 30 distinct clips, charged once


def test_cost_cells_give_hours_and_hours_per_point_over_real_only():
    rows = []
    for seed in (0, 1):
        rows.append(
            {
                "status": "completed",
                "real_fraction": 0.5,
                "synth_multiplier": 0.0,
                "seed": seed,
                "num_synthetic": 0,
                "elapsed_s": 36.0,
                "acc": 0.6,
                "synthetic_recipe": None,
                "draw_seed": None,
            }
        )
        rows.append({"status": "completed", "real_fraction": 0.5, "synth_multiplier": 1.0, "seed": seed,
                     "num_synthetic": 10, "elapsed_s": 72.0, "acc": 0.8, "synthetic_recipe": "r", "draw_seed": seed,
                     "gen_clips": 10, "gen_seconds": 360.0, "gen_device": "cpu", "score_seconds": 0.0})  # fmt: skip
    cells = cost_cells(pd.DataFrame(rows), "acc")
    real_only, mixed = (cells[cells["synth_multiplier"].astype(float) == m].iloc[0] for m in (0.0, 1.0))
    assert real_only["total h"] == pytest.approx(0.01) and pd.isna(real_only["gain (points)"])
    assert mixed["generation h"] == pytest.approx(0.1) and mixed["trial h"] == pytest.approx(0.02)
    assert mixed["gain (points)"] == pytest.approx(20.0) and mixed["h per point"] == pytest.approx(0.12 / 20)
    assert mixed["generated on"] == "cpu" and mixed["n"] == 2
