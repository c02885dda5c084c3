"""Reports from Tune experiment directories, read offline (no running cluster).

>>> df = load("raysynth_work/ray_results/smoke-20261126-050000")  # doctest: +SKIP
>>> print(to_markdown(pivot(df, rows=["real_fraction"], cols=["synth_multiplier"])))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

DEFAULT_METRIC = "selected_test_acc"


class ReportError(ValueError):
    """An experiment directory or a query that cannot be answered, with what is available."""


def _read_trial(trial_dir: Path) -> dict | None:
    params_file, result_file = trial_dir / "params.json", trial_dir / "result.json"
    if not params_file.is_file():
        return None
    config = json.loads(params_file.read_text())
    rows = []
    if result_file.is_file():
        for line in result_file.read_text().splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    warnings.warn(f"{result_file}: skipping a line that is not JSON", stacklevel=3)
    last = rows[-1] if rows else {}
    record = {**config, "trial": trial_dir.name, "epochs_reported": len(rows)}
    for key, value in last.items():
        if key not in config and key != "config" and not isinstance(value, dict | list):
            record[key] = value
    for key, value in (last.get("selected_test_precision") or {}).items():
        record[f"precision/{key}"] = value
    return record


def load(*experiment_dirs: str | Path) -> pd.DataFrame:
    """One row per trial: its config (every axis) and its last reported metrics.

    Args:
        experiment_dirs: one or more Tune experiment folders; their trials are combined.
    """
    records = []
    for experiment_dir in experiment_dirs:
        root = Path(experiment_dir)
        if not root.is_dir():
            raise ReportError(f"experiment directory {root} does not exist")
        for trial_dir in sorted(p.parent for p in root.glob("*/params.json")):
            record = _read_trial(trial_dir)
            if record is not None:
                record["experiment"] = root.name
                records.append(record)
        if not any(r["experiment"] == root.name for r in records):
            raise ReportError(f"{root} holds no Tune trials (no */params.json)")
    return pd.DataFrame.from_records(records)


def pivot(df: pd.DataFrame, rows: list[str], cols: list[str], metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Mean, std and n of ``metric`` over seeds (and any axis not in rows/cols), per cell."""
    missing = [axis for axis in [*rows, *cols, metric] if axis not in df.columns]
    if missing:
        raise ReportError(
            f"not in the results: {', '.join(missing)}; available: {', '.join(sorted(df.columns))}"
        )
    grouped = df.groupby([*rows, *cols], dropna=False)[metric].agg(["mean", "std", "count"]).reset_index()
    grouped["std"] = grouped["std"].fillna(0.0)
    return grouped


def to_markdown(stats: pd.DataFrame, rows: list[str], cols: list[str]) -> str:
    """A markdown table, cells ``mean ± std (n)``, rows × cols."""
    cells = stats.assign(
        cell=stats.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f} (n={int(r['count'])})", axis=1)
    )
    table = (
        cells.pivot_table(index=rows, columns=cols, values="cell", aggfunc="first")
        if cols
        else cells.set_index(rows)[["cell"]]
    )
    table.columns = [
        ", ".join(f"{c}={v}" for c, v in zip(cols, key if isinstance(key, tuple) else (key,), strict=True))
        if cols
        else "value"
        for key in table.columns
    ]
    header = [" / ".join(rows), *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in table.iterrows():
        label = ", ".join(
            f"{r}={v}" for r, v in zip(rows, index if isinstance(index, tuple) else (index,), strict=True)
        )
        lines.append("| " + " | ".join([label, *(str(v) if pd.notna(v) else "" for v in row)]) + " |")
    return "\n".join(lines)
