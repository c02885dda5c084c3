"""The trials of a grid: every combination of axis values, with the axes that do not apply collapsed.

A trial with ``synth_multiplier: 0`` trains on no synthetic clip, so its ``strategy``,
``quality_filter``, ``generator`` and ``variant`` do not change it (generator and variant still matter where it
trains with generated noise). A trial with no training noise has no training SNR, and one with no synthetic clip has one round. Such axes are
set to ``None`` and the copies they would make are run once, so a table's n counts independent
runs only. Combinations with nothing to train on (``real_fraction`` and ``synth_multiplier``
both 0) are left out.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from raysynth.config import ExperimentSpec, SpecError

AXES = (
    "real_fraction", "synth_multiplier", "strategy", "generator", "variant", "quality_filter", "noise_source",
    "train_snr_db", "reverb", "backbone", "round", "fold", "seed",
)  # fmt: skip


def grid_axes(spec: ExperimentSpec) -> dict[str, list[Any]]:
    """Every axis with its values; the optional ones take their single default where the grid has none."""
    grid = spec.grid
    return {
        "real_fraction": list(grid.real_fraction),
        "synth_multiplier": list(grid.synth_multiplier),
        "strategy": list(grid.strategy),
        "generator": spec.generator_values(),
        "variant": spec.variants(),
        "quality_filter": list(grid.quality_filter),
        "noise_source": list(grid.noise_source),
        "train_snr_db": [list(r) for r in grid.train_snr_db] if grid.train_snr_db else [None],
        "reverb": list(grid.reverb) if grid.reverb else [None],
        "backbone": list(grid.backbone) if grid.backbone else [None],
        "round": list(grid.round) if grid.round else [None],
        "fold": list(grid.fold),
        "seed": list(grid.seed),
    }


def collapse(cell: dict[str, Any]) -> dict[str, Any]:
    """``cell`` with the axes that do not change its trial set to ``None``."""
    cell = dict(cell)
    if cell["synth_multiplier"] == 0:
        cell["strategy"] = cell["quality_filter"] = None
        cell["round"] = None if cell.get("round") is None else 1  # no synthetic clip: one round
        if cell["noise_source"] != "synthetic":
            cell["generator"] = cell["variant"] = None
    if cell["noise_source"] == "none":
        cell["train_snr_db"] = None
    return cell


def trial_cells(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The distinct trials of the spec's grid, in grid order.

    Raises:
        SpecError: the grid makes more than ``resources.max_trials`` combinations (counted before
            they are expanded, so a huge grid is refused at once).
    """
    axes = grid_axes(spec)
    count = math.prod(len(values) for values in axes.values())
    if count > spec.resources.max_trials:
        sizes = " x ".join(f"{a} {len(v)}" for a, v in axes.items() if len(v) > 1)
        raise SpecError(
            f"{spec._source}: grid: the grid makes up to {count} trials ({sizes}), more than "
            f"resources.max_trials {spec.resources.max_trials}; shrink the grid, or raise resources.max_trials"
        )
    seen, cells = set(), []
    for values in itertools.product(*(axes[a] for a in AXES)):
        cell = collapse(dict(zip(AXES, values, strict=True)))
        if cell["real_fraction"] == 0 and cell["synth_multiplier"] == 0:
            continue
        if not spec.grid.backbone:  # no backbone axis: the trial's backbone is train.backbone (a fixed value)
            del cell["backbone"]
        if not spec.grid.reverb:  # no reverb axis: train.reverb, as given
            del cell["reverb"]
        if not spec.grid.round:  # no round axis: round 1 only
            del cell["round"]
        key = json.dumps(cell, sort_keys=True)
        if key not in seen:
            seen.add(key)
            cells.append(cell)
    return cells


def varying_axes(cells: list[dict[str, Any]]) -> list[str]:
    """The axes that take more than one value across ``cells`` (in :data:`AXES` order)."""
    return [a for a in AXES if len({json.dumps(c.get(a)) for c in cells}) > 1]


def table_axes(cells: list[dict[str, Any]], max_cols: int = 2) -> tuple[list[str], list[str]]:
    """Rows and columns for the run's summary table, whose cells average over the replicates (seed,
    fold): the first varying axis as rows, then up to ``max_cols`` axes that still vary inside the
    cells so far (an axis that only follows another, as ``strategy`` follows ``synth_multiplier``
    where m = 0 collapses it, is left out)."""
    varying = [a for a in varying_axes(cells) if a not in ("seed", "fold")]  # replicates: averaged over
    if not varying:
        return ["real_fraction"], ["synth_multiplier"]
    chosen: list[str] = varying[:1]
    for axis in varying[1:]:
        groups: dict[str, set[str]] = {}
        for c in cells:
            key = json.dumps([c.get(a) for a in chosen])
            groups.setdefault(key, set()).add(json.dumps(c.get(axis)))
        if any(len(values) > 1 for values in groups.values()):
            chosen.append(axis)
        if len(chosen) > max_cols:
            break
    return chosen[:1], chosen[1:]
