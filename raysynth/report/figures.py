"""The paper's figure types from a results DataFrame (matplotlib, PNG and PDF).

No figure averages over an axis it does not show: each axis that varies in the results (other
than the replicates, ``seed`` and ``fold``) is either the x axis, a line, or a facet (one panel
per value). A figure that would need more than :data:`MAX_FACETS` panels is refused with a message.
Error bars are 95% confidence intervals of the mean over replicates (Student's t, seeds and folds
only), clipped to [0, 1] for scores in that range, with n in the legend.

:func:`all_figures` writes every figure the results support, and says which it skipped and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from raysynth.report import DEFAULT_METRIC  # noqa: E402
from raysynth.report.cells import axis_text, cell_means, cell_rows, varying  # noqa: E402
from raysynth.report.cost import cost_figure  # noqa: E402
from raysynth.report.quality import fad_figure  # noqa: E402
from raysynth.report.tables import metric_name  # noqa: E402

MAX_FACETS = 12


class FigureRefused(ValueError):
    """A figure that cannot show every varying axis (too many panels)."""


def interval(df: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    """Mean, n and the 95% confidence interval of the mean of ``metric`` per ``by`` group, clipped
    to [0, 1] when every value is in [0, 1]."""
    grouped = df.groupby(by, dropna=False)[metric].agg(["mean", "std", "count"]).reset_index()
    t = scipy_stats.t.ppf(0.975, np.maximum(grouped["count"] - 1, 1))
    half = np.where(grouped["count"] > 1, t * grouped["std"].fillna(0.0) / np.sqrt(grouped["count"]), 0.0)
    low, high = grouped["mean"] - half, grouped["mean"] + half
    if df[metric].between(0, 1).all():
        low, high = low.clip(0, 1), high.clip(0, 1)
    return grouped.assign(low=low, high=high)


def _label(axes: list[str], key) -> str:
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{a}={axis_text(v)}" for a, v in zip(axes, values, strict=True))


def line_figure(
    df: pd.DataFrame, x: str, series: list[str], metric: str, title: str, xlabel: str, xscale: str = "linear"
):
    """``metric`` against ``x``, one line per ``series`` value, one panel per other varying axis."""
    facets = varying(df, {x, *series})
    panels = list(df.groupby(facets, dropna=False)) if facets else [((), df)]
    if len(panels) > MAX_FACETS:
        raise FigureRefused(
            f"{len(panels)} panels of {', '.join(facets)} (at most {MAX_FACETS}); pass fewer results"
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, (key, part) in zip(axes[0], panels, strict=True):
        for name, line in interval(part, [*series, x], metric).groupby(series, dropna=False):
            line = line.sort_values(x)
            counts = sorted(set(line["count"].astype(int)))
            ax.errorbar(
                line[x], line["mean"], yerr=[line["mean"] - line["low"], line["high"] - line["mean"]],
                marker="o", capsize=3, label=f"{_label(series, name)} (n={'/'.join(map(str, counts))})",
            )  # fmt: skip
        ax.set(xscale=xscale, xlabel=xlabel, title=f"{title}\n{_label(facets, key)}" if facets else title)
        # Accuracy and F1 on their whole range: a 0.8-point drop never fills a panel.
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(metric_name(metric).replace(" at the epoch", "\nat the epoch"), fontsize=8)
    fig.text(0.5, 0.005, "error bars: 95% CI over seeds and folds", ha="center", fontsize=7)
    return fig


def synth_multiplier_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Accuracy vs synth_multiplier, one line per generator × strategy (paper, Fig. 2)."""
    real_only = df["synth_multiplier"] == 0  # no generator or strategy applies: name the line so
    data = df.assign(
        generator=df["generator"].where(~real_only, "real only"),
        strategy=df["strategy"].where(~real_only, "-"),
    )
    return line_figure(data, "synth_multiplier", ["generator", "strategy"], metric, "Synthetic data amount",
                       "synthetic clips per real clip (synth_multiplier)")  # fmt: skip


def real_fraction_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Accuracy vs real_fraction, real only vs real + synthetic (paper, Fig. 3)."""
    data = df.assign(
        kind=df["synth_multiplier"].map(lambda m: "real only" if m == 0 else f"real + synthetic x{m:g}")
    )
    return line_figure(data.drop(columns=["synth_multiplier"]), "real_fraction", ["kind"], metric,
                       "Real data amount", "fraction of real training data", "log")  # fmt: skip


def class_precision_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Per-class test precision of the best cell of the results (paper, Fig. 4), over its replicates."""
    axes = varying(df, set())
    best = df
    key = cell_means(df, axes, metric).index[0] if axes else None
    if axes:
        best = cell_rows(df, axes, key)
    columns = [c for c in df.columns if c.startswith("precision/")]
    means = best[columns].mean().sort_values()
    fig, ax = plt.subplots(figsize=(5, max(2.5, 0.22 * len(columns))))
    ax.barh([c.split("/", 1)[1] for c in means.index], means.values)
    where = f"best cell: {_label(axes, key)}" if axes else "all trials"
    ax.set(xlabel="test precision", xlim=(0, 1), title=f"Class-wise precision (n={len(best)})\n{where}")
    ax.title.set_fontsize(8)
    return fig


def confusion_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """The test confusion matrices at the selected epoch of the best and the worst cell (summed over
    the cell's replicates), rows true, columns predicted."""
    axes = varying(df, set())
    data = df.dropna(subset=["selected_test_confusion"])
    if axes:
        means = cell_means(data, axes, metric)
        picks = (
            [("best", means.index[0]), ("worst", means.index[-1])]
            if len(means) > 1
            else [("all", means.index[0])]
        )
    else:
        picks = [("all trials", None)]
    names = [c.split("/", 1)[1] for c in df.columns if c.startswith("precision/")]
    fig, panels = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 4), squeeze=False)
    for ax, (which, key) in zip(panels[0], picks, strict=True):
        part = data
        if key is not None:
            part = cell_rows(data, axes, key)
        matrix = sum(np.array(json.loads(m)) for m in part["selected_test_confusion"])
        ax.imshow(matrix, cmap="Blues")
        labels = names if len(names) == len(matrix) else [str(i) for i in range(len(matrix))]
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        for (i, j), count in np.ndenumerate(matrix):
            color = "white" if count > matrix.max() / 2 else "black"
            ax.text(j, i, int(count), ha="center", va="center", fontsize=6, color=color)
        where = _label(axes, key) if key is not None else ""
        ax.set_title(f"{which} (n={len(part)}): {where}", fontsize=7)
        ax.set(xlabel="predicted", ylabel="true")
    return fig


def snr_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Accuracy vs test SNR, one line per noise_source (paper, Fig. 5)."""
    snr_columns = sorted(
        (c for c in df.columns if c.startswith(f"{metric}@")), key=lambda c: -float(c.split("@")[1][:-2])
    )
    order = {"clean": 0, **{c.split("@")[1]: i + 1 for i, c in enumerate(snr_columns)}}
    keep = [c for c in df.columns if c not in snr_columns and c != metric]
    long = pd.concat(
        [df[keep].assign(condition=name, position=order[name], score=df[column])
         for name, column in [("clean", metric), *((c.split("@")[1], c) for c in snr_columns)]]
    )  # fmt: skip
    fig = line_figure(long, "position", ["noise_source"], "score", "Noise robustness", "test condition")
    for ax in fig.axes:
        ax.set_xticks(list(order.values()), list(order))
    fig.axes[0].set_ylabel(f"{metric_name(metric)}\n(clean, then noisy test sets)", fontsize=8)
    return fig


def all_figures(
    df: pd.DataFrame, out_dir: Path, metric: str = DEFAULT_METRIC
) -> tuple[list[Path], list[str]]:
    """Write every figure the results support; return the PNG paths and the reasons for skipped ones."""
    varies = lambda axis: axis in df.columns and df[axis].nunique(dropna=False) > 1  # noqa: E731
    plans = {
        "fig_synth_multiplier": (varies("synth_multiplier"), lambda: synth_multiplier_figure(df, metric), "synth_multiplier does not vary"),
        "fig_real_fraction": (varies("real_fraction"), lambda: real_fraction_figure(df, metric), "real_fraction does not vary"),
        "fig_class_precision": (any(c.startswith("precision/") for c in df.columns), lambda: class_precision_figure(df, metric), "no per-class precision in the results"),
        "fig_confusion": ("selected_test_confusion" in df.columns and df["selected_test_confusion"].notna().any(), lambda: confusion_figure(df, metric), "no confusion matrix in the results"),
        "fig_snr": (any(c.startswith(f"{metric}@") for c in df.columns), lambda: snr_figure(df, metric), "no noisy evaluation in the results"),
        "fig_fad_vs_accuracy": ("fad" in df.columns and df["fad"].notna().any(), lambda: fad_figure(df, metric), "no FAD in the results (quality.measure)"),
        "fig_cost": ("elapsed_s" in df.columns and df["elapsed_s"].notna().any(), lambda: cost_figure(df, metric), "no trial times in the results"),
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for name, (possible, draw, reason) in plans.items():
        if not possible:
            skipped.append(f"{name}: {reason}")
            continue
        try:
            fig = draw()
        except FigureRefused as error:
            skipped.append(f"{name}: {error}")
            continue
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        for suffix in ("png", "pdf"):
            fig.savefig(out_dir / f"{name}.{suffix}", dpi=150)
        plt.close(fig)
        written.append(out_dir / f"{name}.png")
    return written, skipped
