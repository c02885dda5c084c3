"""The real-equivalent of synthetic data (Lin et al., ICASSP 2020): how many real clips per class
a real-only model needs to match a model trained on synthetic clips only.

The real-only accuracies at the measured real fractions form a curve over real clips per class;
its running maximum is interpolated linearly in log clips, and read where it reaches the
synthetic-only accuracy. A value outside the measured range is reported as a bound, never guessed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SYNTH_AXES = [
    "generator",
    "strategy",
    "variant",
    "quality_filter",
    "synth_multiplier",
    "noise_source",
    "train_snr_db",
]


def clips_per_class(df: pd.DataFrame) -> pd.Series:
    """Real training clips per class of each trial (``num_real`` over its number of classes)."""
    classes = df[[c for c in df.columns if c.startswith("precision/")]].notna().sum(axis=1)
    return df["num_real"] / classes.where(classes > 0)


def real_curve(df: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Real-only trials: mean ``metric`` per real clips per class (sorted), as a running maximum."""
    real = df[(df["synth_multiplier"] == 0) & (df["real_fraction"] > 0)]
    means = (
        real.assign(per_class=clips_per_class(real))
        .groupby("real_fraction")
        .agg(per_class=("per_class", "mean"), value=(metric, "mean"))
        .sort_values("per_class")
    )
    return means["per_class"].to_numpy(), np.maximum.accumulate(means["value"].to_numpy())


def real_equivalent(accuracy: float, per_class: np.ndarray, values: np.ndarray) -> tuple[float | None, str]:
    """Real clips per class at which the real-only curve reaches ``accuracy``; with a relation
    (``=``, ``<``, ``>``) when it falls outside the measured real fractions."""
    if len(per_class) == 0:
        return None, "?"
    if accuracy <= values[0]:
        return float(per_class[0]), "<" if accuracy < values[0] else "="
    if accuracy > values[-1]:
        return float(per_class[-1]), ">"
    upper = int(np.argmax(values >= accuracy))
    x0, x1, y0, y1 = per_class[upper - 1], per_class[upper], values[upper - 1], values[upper]
    t = (accuracy - y0) / (y1 - y0) if y1 > y0 else 1.0
    return float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))), "="


def equivalent_table(df: pd.DataFrame, metric: str = "selected_test_acc") -> pd.DataFrame:
    """One row per synthetic-only cell: its accuracy and its real-equivalent in clips per class.

    Empty when the results lack either kind of trial (real-only at some fraction, synthetic-only).
    """
    done = df[df["status"] == "completed"] if "status" in df else df
    synthetic = done[(done["real_fraction"] == 0) & (done["synth_multiplier"] > 0)]
    per_class, values = real_curve(done, metric) if not synthetic.empty else (np.array([]), np.array([]))
    if synthetic.empty or len(per_class) == 0:
        return pd.DataFrame()
    axes = [a for a in SYNTH_AXES if a in synthetic and synthetic[a].nunique(dropna=False) > 1] or [
        "synth_multiplier"
    ]
    rows = []
    for key, part in synthetic.groupby(axes, dropna=False):
        accuracy = float(part[metric].mean())
        value, relation = real_equivalent(accuracy, per_class, values)
        rows.append({**dict(zip(axes, key if isinstance(key, tuple) else (key,), strict=True)),
                     metric: accuracy, "n": len(part), "real_equivalent": value, "relation": relation})  # fmt: skip
    return pd.DataFrame(rows)


def describe(table: pd.DataFrame, per_class: np.ndarray, metric: str) -> list[str]:
    """Lines for the report: each cell's real-equivalent, bounds spelled out."""
    lines = []
    low, high = (per_class.min(), per_class.max()) if len(per_class) else (math.nan, math.nan)
    for _, row in table.iterrows():
        cell = ", ".join(
            f"{a}={row[a]}" for a in table.columns if a not in (metric, "n", "real_equivalent", "relation")
        )
        value = row["real_equivalent"]
        if row["relation"] == "<":
            what = f"below the smallest measured real fraction (< {low:.1f} real clips per class)"
        elif row["relation"] == ">":
            what = f"above the largest measured real fraction (> {high:.1f} real clips per class)"
        else:
            what = f"{value:.1f} real clips per class"
        lines.append(f"synthetic only, {cell}: {metric} {row[metric]:.3f} (n={int(row['n'])}) = {what}")
    return lines
