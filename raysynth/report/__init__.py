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
AXES = (
    "dataset",
    "generator",
    "variant",
    "backbone",
    "real_fraction",
    "synth_multiplier",
    "strategy",
    "seed",
    "fold",
    "noise_source",
    "train_snr_db",
)
AXIS_DEFAULTS = {
    "strategy": "label",
    "fold": None,
    "noise_source": "none",
    "variant": None,
    "train_snr_db": None,
}
INPUTS_FILE = "raysynth_inputs.json"


class ReportError(ValueError):
    """An experiment directory or a query that cannot be answered, with what is available."""


def _read_trial(trial_dir: Path) -> dict | None:
    params_file, result_file = trial_dir / "params.json", trial_dir / "result.json"
    if not params_file.is_file():
        return None
    config = json.loads(params_file.read_text())
    config = {**{k: v for k, v in config.items() if k != "cell"}, **(config.get("cell") or {})}
    config = {k: json.dumps(v) if isinstance(v, list) else v for k, v in config.items()}  # hashable
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


def local_copy(experiment_dir: str | Path, cache: Path | None = None) -> Path:
    """A local folder with the experiment: the folder itself, or a copy of an ``s3://`` one under ``cache``."""
    from raysynth import storage

    if not storage.is_remote(experiment_dir):
        return Path(experiment_dir)
    import tempfile

    name = str(experiment_dir).rstrip("/").rsplit("/", 1)[-1]
    cache = cache or Path(tempfile.mkdtemp(prefix="raysynth-report-"))
    try:
        return storage.download_tree(experiment_dir, cache / name)
    except (OSError, storage.StorageError) as error:
        raise ReportError(f"cannot read experiment directory {experiment_dir}: {error}") from error


def load(*experiment_dirs: str | Path) -> pd.DataFrame:
    """One row per trial: its config (every axis) and its last reported metrics.

    Args:
        experiment_dirs: one or more Tune experiment folders (local or ``s3://``); their trials
            are combined.
    """
    records = []
    for experiment_dir in experiment_dirs:
        root = local_copy(experiment_dir)
        if not root.is_dir():
            raise ReportError(f"experiment directory {root} does not exist")
        for trial_dir in sorted(p.parent for p in root.glob("*/params.json")):
            record = _read_trial(trial_dir)
            if record is not None:
                record["experiment"] = root.name
                records.append(record)
        if not any(r["experiment"] == root.name for r in records):
            raise ReportError(f"{root} holds no Tune trials (no */params.json)")
    df = pd.DataFrame.from_records(records)
    absent = [axis for axis in AXES if axis not in df.columns]
    if absent:
        warnings.warn(
            f"results from an older spec version: axes {', '.join(absent)} are absent; "
            f"filled with their defaults where they have one",
            stacklevel=2,
        )
        for axis in absent:
            df[axis] = AXIS_DEFAULTS.get(axis)
    return df


def best_per_column(stats: pd.DataFrame, rows: list[str], cols: list[str]) -> pd.Series:
    """Whether each cell of ``stats`` holds the highest mean of its column (all rows if no cols)."""
    if not cols:
        return stats["mean"] == stats["mean"].max()
    return stats["mean"] == stats.groupby(cols, dropna=False)["mean"].transform("max")


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


def _cells(stats: pd.DataFrame, rows: list[str], cols: list[str], fmt) -> pd.DataFrame:
    best = best_per_column(stats, rows, cols)
    cells = stats.assign(cell=[fmt(r, b) for (_, r), b in zip(stats.iterrows(), best, strict=True)])
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
    return table


def _row_label(rows: list[str], index) -> str:
    return ", ".join(
        f"{r}={v}" for r, v in zip(rows, index if isinstance(index, tuple) else (index,), strict=True)
    )


def to_markdown(stats: pd.DataFrame, rows: list[str], cols: list[str]) -> str:
    """A markdown table, cells ``mean ± std (n)``, rows × cols; the best cell per column in bold."""

    def fmt(r, best):
        text = f"{r['mean']:.3f} ± {r['std']:.3f} (n={int(r['count'])})"
        return f"**{text}**" if best else text

    table = _cells(stats, rows, cols, fmt)
    header = [" / ".join(rows), *table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in table.iterrows():
        lines.append(
            "| " + " | ".join([_row_label(rows, index), *(str(v) if pd.notna(v) else "" for v in row)]) + " |"
        )
    return "\n".join(lines)


def to_latex(stats: pd.DataFrame, rows: list[str], cols: list[str], caption: str = "") -> str:
    """A booktabs LaTeX table, cells ``mean $\\pm$ std``, best cell per column in bold, n in the caption."""

    def fmt(r, best):
        text = f"{r['mean']:.3f} $\\pm$ {r['std']:.3f}"
        return f"\\textbf{{{text}}}" if best else text

    table = _cells(stats, rows, cols, fmt)
    escape = lambda text: str(text).replace("_", "\\_").replace("%", "\\%")  # noqa: E731
    counts = sorted({int(n) for n in stats["count"]})
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\begin{{tabular}}{{l{'c' * len(table.columns)}}}",
        "\\toprule",
        " & ".join([escape(" / ".join(rows)), *map(escape, table.columns)]) + " \\\\",
        "\\midrule",
    ]
    for index, row in table.iterrows():
        lines.append(
            " & ".join([escape(_row_label(rows, index)), *(v if pd.notna(v) else "--" for v in row)])
            + " \\\\"
        )
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{{escape(caption)} Mean $\\pm$ std over seeds and folds, n = {', '.join(map(str, counts))}.}}",
        "\\end{table}",
    ]
    return "\n".join(lines)
