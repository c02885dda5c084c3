"""Ablation tables from the trial records: mean ± std over completed trials, as markdown and LaTeX."""

from __future__ import annotations

import pandas as pd

from raysynth.report.cells import axis_text
from raysynth.report.trials import AXES, ReportError, status_line

DEFAULT_METRIC = "selected_test_acc"
_METRICS = {
    "selected_test_acc": "test accuracy at the epoch chosen on validation",
    "selected_test_f1": "test macro-F1 at the epoch chosen on validation",
    "selected_valid_acc": "validation accuracy at the epoch chosen on validation",
}


def metric_name(metric: str) -> str:
    """What a metric column means, in words (noisy test sets: ``selected_test_acc@10dB``)."""
    base, _, snr = metric.partition("@")
    words = _METRICS.get(base, base)
    return f"{words}, test set mixed with held-out noise at {snr}" if snr else words


def best_per_column(stats: pd.DataFrame, rows: list[str], cols: list[str]) -> pd.Series:
    """Whether each cell of ``stats`` holds the one highest mean of its column (all rows if no cols).

    A tie marks no cell (no column shows two bold cells), and a cell with no completed trial is
    never best.
    """
    means = stats["mean"].where(stats["count"] > 0)
    groups = stats[cols].map(axis_text).agg("|".join, axis=1) if cols else pd.Series("", index=stats.index)
    top = means.groupby(groups).transform("max")
    is_top = (means == top) & means.notna()
    unique = is_top.groupby(groups).transform("sum") == 1
    return is_top & unique


def pivot(df: pd.DataFrame, rows: list[str], cols: list[str], metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Mean, std and n of ``metric`` over the completed trials of each cell (seeds, folds and any
    axis not in rows/cols), with ``planned`` (every trial of the cell) beside ``count``."""
    missing = [axis for axis in [*rows, *cols, metric] if axis not in df.columns]
    if missing:
        raise ReportError(
            f"not in the results: {', '.join(missing)}; available: {', '.join(sorted(df.columns))}"
        )
    keys = [*rows, *cols]
    if "status" in df:  # a trial whose files are corrupt has no axes: it is counted, not tabulated
        df = df[df["status"] != "not readable"]
    completed = df[df["status"] == "completed"] if "status" in df else df
    if completed.empty:
        raise ReportError(f"no completed trial to tabulate: {status_line(df)}")
    grouped = completed.groupby(keys, dropna=False)[metric].agg(["mean", "std", "count"]).reset_index()
    planned = df.groupby(keys, dropna=False).size().rename("planned").reset_index()
    grouped = planned.merge(grouped, on=keys, how="left").fillna({"count": 0})
    grouped["count"] = grouped["count"].astype(int)
    grouped["std"] = grouped["std"].fillna(0.0)
    grouped.attrs["pooled"] = pooled_axes(completed, keys)
    return grouped


def pooled_axes(completed: pd.DataFrame, keys: list[str]) -> dict[str, list[str]]:
    """Axes (other than the replicates, seed and fold) that vary inside a cell of the table: its
    means average over them, so the table has to say so."""
    pooled = {}
    for axis in AXES:
        if axis in completed and axis not in keys and axis not in ("seed", "fold"):
            text = completed[axis].map(axis_text)
            spread = text.groupby([completed[k] for k in keys], dropna=False).nunique()
            if (spread > 1).any():
                pooled[axis] = sorted(text.unique())
    return pooled


def shortfall_notes(stats: pd.DataFrame, rows: list[str], cols: list[str]) -> list[str]:
    """One line per axis the cells average over without showing it, then one per cell whose
    completed trials are fewer than planned."""
    short = stats[stats["count"] < stats["planned"]]
    pooled = [
        f"averaged over {axis} ({', '.join(values)}), which the table does not show; add it to the rows or columns"
        for axis, values in stats.attrs.get("pooled", {}).items()
    ]
    return pooled + [
        f"{_row_label([*rows, *cols], tuple(r[k] for k in [*rows, *cols]))}: "
        f"{int(r['count'])} of {int(r['planned'])} planned trials completed"
        for _, r in short.iterrows()
    ]


def _cells(stats: pd.DataFrame, rows: list[str], cols: list[str], fmt) -> pd.DataFrame:
    best = best_per_column(stats, rows, cols)
    cells = stats.assign(cell=[fmt(r, b) for (_, r), b in zip(stats.iterrows(), best, strict=True)])
    # dropna=False keeps the cells of a collapsed axis (None: quality_filter where m = 0); the
    # combinations the grid never made are dropped again.
    table = (
        cells.pivot_table(index=rows, columns=cols, values="cell", aggfunc="first", dropna=False)
        .dropna(axis=1, how="all")
        .dropna(axis=0, how="all")
        if cols
        else cells.set_index(rows)[["cell"]]
    )
    table.columns = [
        ", ".join(
            f"{c}={axis_text(v)}"
            for c, v in zip(cols, key if isinstance(key, tuple) else (key,), strict=True)
        )
        if cols
        else "value"
        for key in table.columns
    ]
    return table


def _row_label(rows: list[str], index) -> str:
    return ", ".join(
        f"{r}={axis_text(v)}"
        for r, v in zip(rows, index if isinstance(index, tuple) else (index,), strict=True)
    )


def _mean_std(r, plus_minus: str) -> str:
    """``mean ± std``, or the mean alone where one trial gives no spread."""
    return f"{r['mean']:.3f}" if r["count"] < 2 else f"{r['mean']:.3f}{plus_minus}{r['std']:.3f}"


def to_markdown(
    stats: pd.DataFrame, rows: list[str], cols: list[str], metric: str = DEFAULT_METRIC, caveat: str = ""
) -> str:
    """A markdown table, cells ``mean ± std (n)``, rows × cols; the best cell per column in bold.

    Cells with fewer completed trials than planned are named in a note under the table.
    """

    def fmt(r, best):
        if r["count"] == 0:
            return f"— (0 of {int(r['planned'])})"
        text = _mean_std(r, " ± ") + f" (n={int(r['count'])})"
        return f"**{text}**" if best else text

    table = _cells(stats, rows, cols, fmt)
    header = [" / ".join(rows), *table.columns]
    lines = [
        f"{metric_name(metric)}: mean ± std over completed seeds and folds (n); bold: the best of its column"
    ]
    if caveat:
        lines.insert(0, f"**{caveat}**")
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in table.iterrows():
        lines.append(
            "| " + " | ".join([_row_label(rows, index), *(str(v) if pd.notna(v) else "" for v in row)]) + " |"
        )
    lines += [f"\nnote: {note}" for note in shortfall_notes(stats, rows, cols)]
    return "\n".join(lines)


def to_latex(
    stats: pd.DataFrame, rows: list[str], cols: list[str], caption: str = "", metric: str = DEFAULT_METRIC
) -> str:
    """A booktabs LaTeX table, cells ``mean $\\pm$ std``, best cell per column in bold, n in the caption."""

    def fmt(r, best):
        if r["count"] == 0:
            return "--"
        text = _mean_std(r, " $\\pm$ ")
        return f"\\textbf{{{text}}}" if best else text

    table = _cells(stats, rows, cols, fmt)
    escape = lambda text: str(text).replace("_", "\\_").replace("%", "\\%")  # noqa: E731
    counts = sorted({int(n) for n in stats["count"] if n > 0})
    notes = shortfall_notes(stats, rows, cols)
    short = [n for n in notes if not n.startswith("averaged over")]
    caption = " ".join(
        [caption, *(f"{n[0].upper()}{n[1:]}." for n in notes if n.startswith("averaged over"))]
    )
    if short:
        caption = f"{caption} {len(short)} cell(s) have fewer completed trials than planned."
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
        f"\\caption{{{escape(caption)} {escape(metric_name(metric)).capitalize()}: mean $\\pm$ std over seeds and "
        f"folds, n = {', '.join(map(str, counts))}.}}",
        "\\end{table}",
    ]
    return "\n".join(lines)


def to_html(
    stats: pd.DataFrame, rows: list[str], cols: list[str], metric: str = DEFAULT_METRIC, caveat: str = ""
) -> str:
    """The markdown table's pivot as HTML (escaped), the best cell per column in bold."""
    import html

    def fmt(r, best):
        if r["count"] == 0:
            return f"— (0 of {int(r['planned'])})"
        text = html.escape(_mean_std(r, " ± ") + f" (n={int(r['count'])})")
        return f"<b>{text}</b>" if best else text

    table = _cells(stats, rows, cols, fmt)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [" / ".join(rows), *table.columns])
    body = "".join(
        f"<tr><td>{html.escape(_row_label(rows, index))}</td>"
        + "".join(f"<td>{v if pd.notna(v) else ''}</td>" for v in row)
        + "</tr>"
        for index, row in table.iterrows()
    )
    intro = f"<p><b>{html.escape(caveat)}</b></p>" if caveat else ""
    intro += f"<p>{html.escape(metric_name(metric))}: mean ± std over completed seeds and folds (n)</p>"
    notes = "".join(f"<p>note: {html.escape(n)}</p>" for n in shortfall_notes(stats, rows, cols))
    return f"{intro}<table class='results'><tr>{head}</tr>{body}</table>{notes}"
