"""The paper's figure types from a results DataFrame (matplotlib, PNG and PDF).

Each function draws one figure and returns it; :func:`all_figures` writes every figure whose
axes vary in the results, and says which it skipped and why.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from raysynth.report import DEFAULT_METRIC  # noqa: E402


def _mean_std(df: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    return (
        df.groupby(by, dropna=False)[metric].agg(["mean", "std", "count"]).reset_index().fillna({"std": 0.0})
    )


def synth_multiplier_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Accuracy vs synth_multiplier, one line per generator × strategy (paper, Fig. 2)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    stats = _mean_std(df, ["generator", "strategy", "synth_multiplier"], metric)
    for (generator, strategy), part in stats.groupby(["generator", "strategy"], dropna=False):
        ax.errorbar(
            part["synth_multiplier"],
            part["mean"],
            yerr=part["std"],
            marker="o",
            capsize=3,
            label=f"{generator} / {strategy}",
        )
    ax.set(
        xlabel="synthetic clips per real clip (synth_multiplier)",
        ylabel=metric,
        title="Synthetic data amount",
    )
    ax.legend(fontsize=8)
    return fig


def real_fraction_figure(df: pd.DataFrame, metric: str = DEFAULT_METRIC):
    """Accuracy vs real_fraction, real only vs real + synthetic (paper, Fig. 3)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    data = df.assign(
        kind=df["synth_multiplier"].map(lambda m: "real only" if m == 0 else f"real + synthetic x{m:g}")
    )
    for kind, part in _mean_std(data, ["kind", "real_fraction"], metric).groupby("kind"):
        ax.errorbar(part["real_fraction"], part["mean"], yerr=part["std"], marker="o", capsize=3, label=kind)
    ax.set(xscale="log", xlabel="fraction of real training data", ylabel=metric, title="Real data amount")
    ax.legend(fontsize=8)
    return fig


def class_precision_figure(df: pd.DataFrame):
    """Per-class test precision, zero-shot trials where there are any (paper, Fig. 4)."""
    zero_shot = df[df["real_fraction"] == 0] if (df["real_fraction"] == 0).any() else df
    columns = [c for c in df.columns if c.startswith("precision/")]
    means = zero_shot[columns].mean().sort_values()
    fig, ax = plt.subplots(figsize=(5, max(2.5, 0.22 * len(columns))))
    ax.barh([c.split("/", 1)[1] for c in means.index], means.values)
    title = "Class-wise precision" + (" (zero-shot)" if zero_shot is not df else "")
    ax.set(xlabel="test precision", xlim=(0, 1), title=title)
    return fig


def snr_figure(df: pd.DataFrame):
    """Accuracy vs test SNR, one line per noise_source (paper, Fig. 5)."""
    snr_columns = sorted(
        (c for c in df.columns if c.startswith("selected_test_acc@")),
        key=lambda c: -float(c.split("@")[1][:-2]),
    )
    columns = ["selected_test_acc", *snr_columns]
    labels = ["clean", *(c.split("@")[1] for c in snr_columns)]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for source, part in df.groupby("noise_source", dropna=False):
        means, stds = part[columns].mean(), part[columns].std().fillna(0.0)
        ax.errorbar(
            labels, means.values, yerr=stds.values, marker="o", capsize=3, label=f"train noise: {source}"
        )
    ax.set(xlabel="test condition", ylabel="test accuracy", title="Noise robustness")
    ax.legend(fontsize=8)
    return fig


def all_figures(
    df: pd.DataFrame, out_dir: Path, metric: str = DEFAULT_METRIC
) -> tuple[list[Path], list[str]]:
    """Write every figure the results support; return the PNG paths and the reasons for skipped ones."""
    varies = lambda axis: axis in df.columns and df[axis].nunique(dropna=False) > 1  # noqa: E731
    plans = {
        "fig_synth_multiplier": (varies("synth_multiplier"), lambda: synth_multiplier_figure(df, metric), "synth_multiplier does not vary"),
        "fig_real_fraction": (varies("real_fraction"), lambda: real_fraction_figure(df, metric), "real_fraction does not vary"),
        "fig_class_precision": (any(c.startswith("precision/") for c in df.columns), lambda: class_precision_figure(df), "no per-class precision in the results"),
        "fig_snr": (any(c.startswith("selected_test_acc@") for c in df.columns), lambda: snr_figure(df), "no noisy evaluation in the results"),
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for name, (possible, draw, reason) in plans.items():
        if not possible:
            skipped.append(f"{name}: {reason}")
            continue
        fig = draw()
        fig.tight_layout()
        for suffix in ("png", "pdf"):
            fig.savefig(out_dir / f"{name}.{suffix}", dpi=150)
        plt.close(fig)
        written.append(out_dir / f"{name}.png")
    return written, skipped
