"""The report's quality section: what quality filters kept and rejected per class, and whether the
Fréchet audio distance of a cell's synthetic clips predicts its accuracy ("Does FAD predict
usefulness?"): cell means of FAD against cell means of the metric, with Spearman's rho and n.

A cell is one combination of the varying axes other than the replicates (seed, fold); its FAD
and accuracy are the means over its completed replicates.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from raysynth.report.cells import axis_text, varying


def _completed(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "completed"] if "status" in df else df


def filter_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell with a quality filter: kept and rejected clips per class (summed over its trials)."""
    done = _completed(df)
    kept = [c for c in done.columns if c.startswith("kept/")]
    if not kept:
        return pd.DataFrame()
    done = done.dropna(subset=kept, how="all")
    axes = ["quality_filter", *[a for a in varying(done) if a != "quality_filter"]]
    rows = []
    for key, part in done.groupby(done[axes].map(axis_text).apply(tuple, axis=1)):
        row = {**dict(zip(axes, key, strict=True)), "trials": len(part)}
        for column in kept:
            label = column.split("/", 1)[1]
            row[label] = f"{int(part[column].sum())} / {int(part[f'rejected/{label}'].sum())}"
        rows.append(row)
    return pd.DataFrame(rows)


def teacher_warning(df: pd.DataFrame) -> str:
    """A line for teacher-filtered trials with no real training clip: they are not zero-shot."""
    if "quality_filter" not in df or "real_fraction" not in df:
        return ""
    teacher = df["quality_filter"].map(axis_text).str.startswith("teacher_")
    zero, part = teacher & (df["real_fraction"] == 0), teacher & df["real_fraction"].between(0, 1, "neither")
    lines = []
    if zero.any():
        lines.append(f"{int(zero.sum())} trial(s) with real_fraction 0 filter on the teacher score: their clips "
                     f"were chosen by a model of the real training split, so they are not free of real data")  # fmt: skip
    if part.any():
        lines.append(f"{int(part.sum())} teacher-filtered trial(s) with real_fraction < 1: each teacher trained "
                     f"on that trial's own real subset (fold, fraction, seed) only, so it is a weak judge")  # fmt: skip
    return "; ".join(lines)


def fad_cells(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cell with synthetic clips: mean FAD, diversity, near-duplicates and ``metric``, with n."""
    done = _completed(df)
    if "fad" not in done or done["fad"].notna().sum() == 0:
        return pd.DataFrame()
    done = done.dropna(subset=["fad"])
    axes = varying(done) or ["cells"]  # nothing varies: one cell of every trial
    done = done if axes != ["cells"] else done.assign(cells="all")
    keys = done[axes].map(axis_text).apply(tuple, axis=1)
    grouped = done.groupby(keys)
    table = grouped[[c for c in ("fad", "diversity", "near_duplicates", metric) if c in done]].mean()
    table["n"] = grouped.size()
    labels = pd.DataFrame([list(k) for k in table.index], columns=axes)
    return pd.concat([labels, table.reset_index(drop=True)], axis=1)


SPEAKER_COLUMNS = ("effective_voices", "speaker_distance", "real_effective_voices", "real_speaker_distance")


def speaker_cells(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cell with speaker measures (``quality.speakers``): the synthetic clips' effective number of
    voices and mean voice distance, the real clips', and ``metric``; means over the cell's trials, with n."""
    done = _completed(df)
    if "effective_voices" not in done or done["effective_voices"].notna().sum() == 0:
        return pd.DataFrame()
    done = done.dropna(subset=["effective_voices"])
    axes = varying(done) or ["cells"]
    done = done if axes != ["cells"] else done.assign(cells="all")
    grouped = done.groupby(done[axes].map(axis_text).apply(tuple, axis=1))
    table = grouped[[c for c in (*SPEAKER_COLUMNS, metric) if c in done]].mean()
    table["n"] = grouped.size()
    labels = pd.DataFrame([list(k) for k in table.index], columns=axes)
    return pd.concat([labels, table.reset_index(drop=True)], axis=1)


def fad_correlation(cells: pd.DataFrame, metric: str) -> tuple[float | None, int, str]:
    """Spearman's rho of cell FAD against cell ``metric`` (lower FAD should mean higher accuracy, so a
    useful FAD has a negative rho), with n and one sentence."""
    n = len(cells)
    if n < 3:
        return None, n, f"Spearman's rho needs at least 3 cells with synthetic clips; there are {n}"
    if cells["fad"].nunique() < 2 or cells[metric].nunique() < 2:
        constant = "FAD" if cells["fad"].nunique() < 2 else metric
        return None, n, f"Spearman's rho is undefined: {constant} is the same in all {n} cells"
    rho, p_value, how = spearman_permutation(cells["fad"].to_numpy(), cells[metric].to_numpy())
    return (
        rho,
        n,
        f"Spearman's rho of FAD against {metric}: {rho:+.2f} (n = {n} cells, {how} p = {p_value:.2g})",
    )


EXACT_UP_TO = 8  # cells: every ordering is enumerated (8! = 40,320); above, 20,000 seeded permutations


def spearman_permutation(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """Spearman's rho with a two-sided permutation p (scipy's t approximation is wrong at a few cells:
    at n = 4 it gives 0.2 where the exact p is 1/3). Returns (rho, p, "exact" or "permutation")."""
    rho = lambda a: scipy_stats.spearmanr(a, y).statistic  # noqa: E731
    exact = len(x) <= EXACT_UP_TO
    result = scipy_stats.permutation_test(
        (x,), rho, permutation_type="pairings", n_resamples=np.inf if exact else 20_000,
        alternative="two-sided", rng=np.random.default_rng(0),
    )  # fmt: skip
    return float(result.statistic), float(result.pvalue), "exact" if exact else "permutation"


def fad_figure(df: pd.DataFrame, metric: str):
    """Cell FAD against cell ``metric``, one marked point per cell (legend with n), rho in the title."""
    import textwrap

    import matplotlib.pyplot as plt

    from raysynth.report.tables import metric_name

    cells = fad_cells(df, metric)
    _, _, sentence = fad_correlation(cells, metric)
    axes = [c for c in cells.columns if c not in ("fad", "diversity", "near_duplicates", metric, "n")]
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    for i, row in cells.reset_index(drop=True).iterrows():
        label = ", ".join(f"{a}={row[a]}" for a in axes if row[a] != "-") or "all trials"
        ax.scatter(
            row["fad"], row[metric], marker="os^vDP*X"[i % 8], s=40, label=f"{label} (n={int(row['n'])})"
        )
    ax.set_xlabel("FAD of the cell's synthetic training clips to the real training split", fontsize=8)
    ax.set_ylabel(metric_name(metric).replace(" at the epoch", "\nat the epoch"), fontsize=8)
    ax.set_title("Does FAD predict usefulness?\n" + textwrap.fill(sentence, 70), fontsize=8)
    if cells[metric].between(0, 1).all():
        ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def quality_notes(df: pd.DataFrame, metric: str) -> list[str]:
    """The quality section as lines: the FAD sentence (where FAD was measured)."""
    cells = fad_cells(df, metric)
    if cells.empty:
        return []
    embedding = df["fad_embedding"].dropna().unique() if "fad_embedding" in df else []
    line = fad_correlation(cells, metric)[2] + (
        f"; embedding: {', '.join(embedding)}" if len(embedding) else ""
    )
    # No rho over single trials: the folds and seeds of one cell are replicates, not independent cells.
    return [line]


def markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (floats to 3 decimals); pandas' own needs ``tabulate``."""
    text = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(text(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def quality_section(df: pd.DataFrame, metric: str, out: Path, say: Callable[[str], None]) -> dict[str, str]:
    """Say and write the quality tables (``quality_filter_counts.csv``, ``quality_fad.csv``); returns
    their HTML by heading, for the report page (empty where the results have neither)."""
    tables = {}
    counts = filter_counts(df)
    if not counts.empty:
        say("\nquality filters: kept / rejected synthetic training clips per class (summed over trials)\n")
        say(markdown(counts))
        counts.to_csv(out / "quality_filter_counts.csv", index=False)
        warning = teacher_warning(df)
        if warning:
            say(f"\nnote: {warning}")
        tables["Quality filters: kept / rejected clips per class"] = counts.to_html(index=False) + (
            f"<p><b>{html.escape(warning)}</b></p>" if warning else ""
        )
    cells = fad_cells(df, metric)
    if not cells.empty:
        sentence = "".join(quality_notes(df, metric))
        say(f"\nDoes FAD predict usefulness? {sentence}\n")
        say(markdown(cells))
        cells.to_csv(out / "quality_fad.csv", index=False)
        tables["Does FAD predict usefulness?"] = (
            cells.to_html(index=False, float_format="%.3f") + f"<p>{html.escape(sentence)}</p>"
        )
    from raysynth.report.cost import cost_cells

    costs = cost_cells(df, metric)
    if not costs.empty:
        line = ("compute per cell (hours of the device that did the work; generation and scoring shared among the "
                "trials that reuse the clips), and the hours per point of accuracy over the real-only baseline")  # fmt: skip
        say(f"\nwhat each accuracy point costs: {line}\n")
        say(markdown(costs))
        costs.to_csv(out / "cost.csv", index=False)
        tables["What each accuracy point costs"] = costs.to_html(
            index=False, float_format="%.4g", na_rep="-"
        ) + (f"<p>{html.escape(line)}</p>")
    speakers = speaker_cells(df, metric)
    if not speakers.empty:
        source = df["real_speaker_source"].dropna().unique() if "real_speaker_source" in df else []
        line = ("speaker diversity (resemblyzer voice vectors): effective number of voices (Vendi score) and mean "
                f"cosine distance, synthetic training clips and real ({', '.join(source) or 'none'}) clips")  # fmt: skip
        say(f"\n{line}\n")
        say(markdown(speakers))
        speakers.to_csv(out / "quality_speakers.csv", index=False)
        tables["Speaker diversity beside accuracy"] = (
            speakers.to_html(index=False, float_format="%.3f") + f"<p>{html.escape(line)}</p>"
        )
    return tables
