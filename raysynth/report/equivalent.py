"""The real-equivalent of synthetic data (Lin et al., ICASSP 2020): how many real clips per class
a real-only model needs to match a model trained on synthetic clips only.

The real-only accuracies at the measured real fractions form a curve over real clips per class;
its running maximum is interpolated linearly in log clips, and read where it reaches the
synthetic-only accuracy. A value outside the measured range is reported as a bound, never guessed.
The curve of a synthetic cell is made of the real-only trials trained as the cell was, on every axis
the two share (training noise and its SNR range, backbone): a cell with no such trials gets no
real-equivalent, and each line names the curve it read.
"""

from __future__ import annotations

import json
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
# Axes a real-only trial and a synthetic-only cell both have: the curve must match the cell on them.
SHARED_AXES = ["noise_source", "train_snr_db", "backbone", "dataset", "mode"]


def clips_per_class(df: pd.DataFrame) -> pd.Series:
    """Real training clips per class of each trial (``num_real`` over its number of classes)."""
    classes = df[[c for c in df.columns if c.startswith("precision/")]].notna().sum(axis=1)
    return df["num_real"] / classes.where(classes > 0)


def _text(value) -> str:
    """An axis value as comparable text (lists such as an SNR range, None and NaN alike)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    return json.dumps(list(value) if isinstance(value, tuple | np.ndarray) else value, default=str)


def real_curve(df: pd.DataFrame, metric: str, match: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Real-only trials trained as ``match`` says (axis values): mean ``metric`` per real clips per
    class (sorted), as a running maximum."""
    real = df[(df["synth_multiplier"] == 0) & (df["real_fraction"] > 0)]
    for axis, value in (match or {}).items():
        real = real[real[axis].map(_text) == _text(value)]
    if real.empty:
        return np.array([]), np.array([])
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
    """One row per synthetic-only cell: its accuracy, the real-only curve it was read off (the trials
    that match it on :data:`SHARED_AXES`), and its real-equivalent in clips per class (``None``
    where no real-only trial was trained as the cell was).

    Empty when the results lack either kind of trial (real-only at some fraction, synthetic-only).
    """
    done = df[df["status"] == "completed"] if "status" in df else df
    synthetic = done[(done["real_fraction"] == 0) & (done["synth_multiplier"] > 0)]
    real = done[(done["synth_multiplier"] == 0) & (done["real_fraction"] > 0)]
    if synthetic.empty or real.empty:
        return pd.DataFrame()
    shared = [a for a in SHARED_AXES if a in synthetic and a in real]
    axes = [a for a in dict.fromkeys(SYNTH_AXES + shared)
            if a in synthetic and synthetic[a].map(_text).nunique() > 1] or ["synth_multiplier"]  # fmt: skip
    rows = []
    for _, part in synthetic.groupby(synthetic[axes].map(_text).apply(tuple, axis=1), sort=True):
        first = part.iloc[0]
        match = {a: first[a] for a in shared if part[a].map(_text).nunique() == 1}
        per_class, values = real_curve(done, metric, match)
        accuracy = float(part[metric].mean())
        value, relation = real_equivalent(accuracy, per_class, values)
        curve = (
            ", ".join(f"{a}={_text(v).strip(chr(34))}" for a, v in match.items()) or "all real-only trials"
        )
        rows.append({**{a: first[a] for a in axes}, metric: accuracy, "n": len(part), "real_equivalent": value,
                     "relation": relation, "real_curve": curve,
                     "curve_low": float(per_class.min()) if len(per_class) else math.nan,
                     "curve_high": float(per_class.max()) if len(per_class) else math.nan})  # fmt: skip
    return pd.DataFrame(rows)


def describe(table: pd.DataFrame, metric: str) -> list[str]:
    """Lines for the report: each cell's real-equivalent and the real-only curve it was read off."""
    lines = []
    extra = (metric, "n", "real_equivalent", "relation", "real_curve", "curve_low", "curve_high")
    for _, row in table.iterrows():
        cell = ", ".join(f"{a}={_text(row[a]).strip(chr(34))}" for a in table.columns if a not in extra)
        value, low, high = row["real_equivalent"], row["curve_low"], row["curve_high"]
        if row["relation"] == "?":
            what = f"no real-only trials trained as it was ({row['real_curve']}): no real-equivalent"
        elif row["relation"] == "<":
            what = f"below the smallest measured real fraction (< {low:.1f} real clips per class)"
        elif row["relation"] == ">":
            what = f"above the largest measured real fraction (> {high:.1f} real clips per class)"
        else:
            what = f"{value:.1f} real clips per class"
        curve = f" (real-only curve: {row['real_curve']})" if row["relation"] != "?" else ""
        lines.append(
            f"synthetic only, {cell}: {metric} {row[metric]:.3f} (n={int(row['n'])}) = {what}{curve}"
        )
    return lines
