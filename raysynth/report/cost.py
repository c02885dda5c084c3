"""What each accuracy point costs: compute per cell (generation, scoring, training) beside its
accuracy and its gain over the real-only baseline.

Each trial records the seconds its synthetic clips took to make (``gen_seconds``: the sum of
their ``gen_seconds``, a filter's rejected candidates included, over ``gen_clips`` clips, made on
``gen_device``), to score (``score_seconds``), and its own wall time (``elapsed_s``, training and
evaluation). Cells reuse clips: the trials of one recipe and draw read the first n clips of a
class, so a clip read by k trials is charged 1/k to each (at a recipe's mean seconds per clip).
A cell's cost is the mean over its trials of the shared generation and scoring and the trial's
own time, in hours of the device that did the work; its gain is its mean ``metric`` minus the mean
of the real-only trials (no synthetic clip) at the same ``real_fraction``, in points (x 100).
"""

from __future__ import annotations

import pandas as pd

from raysynth.report.cells import axis_text, varying

HOUR = 3600.0


def shared_seconds(df: pd.DataFrame, seconds: str) -> pd.Series:
    """Per trial, its share of ``seconds`` when the trials of one recipe and draw share nested clips."""
    out = pd.Series(0.0, index=df.index)
    groups = df.dropna(subset=["synthetic_recipe"]).groupby(["synthetic_recipe", "draw_seed"], dropna=False)
    for _, group in groups:
        clips = group["gen_clips"].astype(float)
        per_clip = float(group[seconds].sum() / clips.sum()) if clips.sum() else 0.0
        levels = sorted(set(clips))
        previous = 0.0
        for level in levels:
            users = clips >= level  # the trials that read the clips between the previous level and this one
            out.loc[group.index[users.to_numpy()]] += per_clip * (level - previous) / int(users.sum())
            previous = level
    return out


def cost_cells(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cell: generation, scoring and trial hours, their total, ``metric``, the gain over real-only
    and the hours per point of gain, with n (empty where the trials recorded no cost)."""
    done = df[df["status"] == "completed"] if "status" in df else df
    if "elapsed_s" not in done or done.empty:
        return pd.DataFrame()
    done = done.copy()
    for column in ("gen_seconds", "gen_clips", "score_seconds"):
        done[column] = done[column].fillna(0.0) if column in done else 0.0
    if "synthetic_recipe" not in done:
        done["synthetic_recipe"], done["draw_seed"] = None, None
    done["gen_h"] = shared_seconds(done, "gen_seconds") / HOUR
    done["score_h"] = shared_seconds(done, "score_seconds") / HOUR
    done["trial_h"] = done["elapsed_s"].astype(float) / HOUR
    done["total_h"] = done["gen_h"] + done["score_h"] + done["trial_h"]
    synthetic = (
        done["num_synthetic"].fillna(0) > 0 if "num_synthetic" in done else pd.Series(False, index=done.index)
    )
    baseline = (
        done[~synthetic].groupby("real_fraction")[metric].mean() if "real_fraction" in done else pd.Series()
    )
    axes = varying(done) or ["cells"]
    done = done if axes != ["cells"] else done.assign(cells="all")
    rows = []
    for key, part in done.groupby(done[axes].map(axis_text).apply(tuple, axis=1)):
        devices = sorted(
            {
                d
                for value in part.get("gen_device", pd.Series(dtype=str)).dropna()
                for d in str(value).split(";")
                if d
            }
        )
        accuracy = float(part[metric].mean())
        base = (
            baseline.get(part["real_fraction"].iloc[0])
            if "real_fraction" in part and not baseline.empty
            else None
        )
        row = {**dict(zip(axes, key, strict=True)), "generation h": part["gen_h"].mean(),
               "generated on": ", ".join(devices) or "-", "scoring h": part["score_h"].mean(),
               "trial h": part["trial_h"].mean(), "total h": part["total_h"].mean(), metric: accuracy}  # fmt: skip
        gain = (accuracy - base) * 100 if base is not None and bool(synthetic.loc[part.index].any()) else None
        row["gain (points)"] = gain
        row["h per point"] = part["total_h"].mean() / gain if gain and gain > 0 else None
        row["n"] = len(part)
        rows.append(row)
    return pd.DataFrame(rows)


def cost_figure(df: pd.DataFrame, metric: str):
    """Cell ``metric`` against cell compute (total hours, log scale), one marked point per cell."""
    import matplotlib.pyplot as plt

    from raysynth.report.tables import metric_name

    cells = cost_cells(df, metric)
    axes = [c for c in cells.columns if c not in {"generation h", "generated on", "scoring h", "trial h", "total h",
                                                    metric, "gain (points)", "h per point", "n"}]  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, row in cells.reset_index(drop=True).iterrows():
        label = ", ".join(f"{a}={row[a]}" for a in axes)
        ax.scatter(
            row["total h"], row[metric], marker="os^vDP*X"[i % 8], s=40, label=f"{label} (n={int(row['n'])})"
        )
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel(
        "compute per trial, hours (generation and scoring shared among the trials reusing the clips)"
    )
    ax.set_ylabel(metric_name(metric))
    ax.set_title("What each accuracy point costs")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig
