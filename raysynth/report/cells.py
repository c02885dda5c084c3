"""A report's cells: axis values as text, the mean of a metric per cell, and the rows of one cell.

Every table and figure that groups trials into cells, or names "the best cell", goes through here,
so that they agree (a collapsed axis, ``None``, is ``-`` in all of them).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from raysynth.report.trials import AXES

REPLICATES = ("seed", "fold")


def axis_text(value: Any) -> str:
    """An axis value as text for grouping and labels; a collapsed axis (None, NaN in a frame) is ``-``."""
    return "-" if value is None or (isinstance(value, float) and value != value) else str(value)


def cell_means(df: pd.DataFrame, axes: list[str], metric: str) -> pd.Series:
    """The mean ``metric`` per cell of ``axes`` (keys as :func:`axis_text`), best first; ties by key, so
    every figure and table that names "the best cell" names the same one."""
    keys = df[axes].map(axis_text)
    means = df[metric].groupby([keys[a] for a in axes]).mean()
    order = sorted(means.index, key=lambda k: (-means[k], str(k)))
    return means.loc[order]


def cell_rows(df: pd.DataFrame, axes: list[str], key) -> pd.DataFrame:
    """The rows of ``df`` in the cell ``key`` (a value or a tuple of :func:`axis_text` values)."""
    values = list(key) if isinstance(key, tuple) else [key]
    return df[(df[axes].map(axis_text) == values).all(axis=1)]


def varying(df: pd.DataFrame, shown: set[str] | tuple = ()) -> list[str]:
    """Axes that vary in ``df`` and are neither shown nor replicates (seed, fold)."""
    return [
        a
        for a in AXES
        if a in df and a not in shown and a not in REPLICATES and df[a].map(axis_text).nunique() > 1
    ]
