"""Paired comparisons: two values of one axis, trial against trial at every other axis equal.

Round 2 against round 1 pairs each round-2 trial with the round-1 trial it came from (same cell,
fold and seed), so the difference removes what the two share (the fold's test speakers, the real
clips, the draw). The p-value is the exact two-sided sign-flip (permutation) test of the mean
difference, from ``scipy.stats.permutation_test`` (every one of the 2^n sign patterns where n <= 16):
right at small n, where a t-test's normal tails are not. With n pairs the smallest possible p is
2 / 2^n (n = 3: 0.25; n = 6: 0.031).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from raysynth.report.cells import REPLICATES, axis_text, varying


def sign_flip_p(differences: np.ndarray) -> float:
    """Exact two-sided sign-flip p-value of the mean of paired ``differences`` (1.0 for n = 0)."""
    from scipy.stats import permutation_test

    differences = np.asarray(differences, dtype=float)
    if differences.size == 0 or not np.any(differences):
        return 1.0
    result = permutation_test(
        (differences,), np.mean, permutation_type="samples", alternative="two-sided", n_resamples=2**16
    )
    return float(result.pvalue)


def paired_table(df: pd.DataFrame, axis: str, first, second, metric: str) -> pd.DataFrame:
    """Per group of the other varying axes (replicates paired, not grouped): n pairs, the mean
    ``metric`` at ``first`` and at ``second``, their mean difference in points and its p-value."""
    done = df[(df["status"] == "completed") & df[axis].isin([first, second])]
    keys = varying(done, {axis})
    pair_keys = [*keys, *(a for a in REPLICATES if a in done.columns)]
    text = done[pair_keys].map(axis_text)
    pair = text.agg("|".join, axis=1) if pair_keys else pd.Series("", index=done.index)
    rows = []
    groups = [(g, frame.index) for g, frame in text.groupby(keys)] if keys else [((), done.index)]
    for group, part in groups:
        a = done.loc[part][done.loc[part, axis] == first].set_index(
            pair.loc[part][done.loc[part, axis] == first]
        )
        b = done.loc[part][done.loc[part, axis] == second].set_index(
            pair.loc[part][done.loc[part, axis] == second]
        )
        common = a.index.intersection(b.index)
        if common.empty:
            continue
        diff = (b.loc[common, metric] - a.loc[common, metric]).to_numpy(dtype=float)
        group = group if isinstance(group, tuple) else (group,)
        rows.append({
            **dict(zip(keys, group, strict=True)),
            "n pairs": len(common),
            f"{axis} {first}": float(a.loc[common, metric].mean()),
            f"{axis} {second}": float(b.loc[common, metric].mean()),
            "difference (points)": 100 * float(diff.mean()),
            "p (sign-flip)": sign_flip_p(diff),
        })  # fmt: skip
    return pd.DataFrame(rows)
