"""The trials of a grid: every combination of axis values, with the axes that do not apply collapsed.

A trial with ``synth_multiplier: 0`` trains on no synthetic clip, so its ``strategy``,
``generator`` and ``variant`` do not change it (generator and variant still matter where it
trains with generated noise). A trial with no training noise has no training SNR. Such axes are
set to ``None`` and the copies they would make are run once, so a table's n counts independent
runs only. Combinations with nothing to train on (``real_fraction`` and ``synth_multiplier``
both 0) are left out.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from raysynth.config import ExperimentSpec

AXES = (
    "real_fraction", "synth_multiplier", "strategy", "generator", "variant", "noise_source", "train_snr_db",
    "fold", "seed",
)  # fmt: skip


def grid_axes(spec: ExperimentSpec) -> dict[str, list[Any]]:
    """Every axis with its values; the optional ones take their single default where the grid has none."""
    grid = spec.grid
    return {
        "real_fraction": list(grid.real_fraction),
        "synth_multiplier": list(grid.synth_multiplier),
        "strategy": list(grid.strategy),
        "generator": spec.generators(),
        "variant": spec.variants(),
        "noise_source": list(grid.noise_source),
        "train_snr_db": [list(r) for r in grid.train_snr_db] if grid.train_snr_db else [None],
        "fold": list(grid.fold),
        "seed": list(grid.seed),
    }


def collapse(cell: dict[str, Any]) -> dict[str, Any]:
    """``cell`` with the axes that do not change its trial set to ``None``."""
    cell = dict(cell)
    if cell["synth_multiplier"] == 0:
        cell["strategy"] = None
        if cell["noise_source"] != "synthetic":
            cell["generator"] = cell["variant"] = None
    if cell["noise_source"] == "none":
        cell["train_snr_db"] = None
    return cell


def trial_cells(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The distinct trials of the spec's grid, in grid order."""
    axes = grid_axes(spec)
    seen, cells = set(), []
    for values in itertools.product(*(axes[a] for a in AXES)):
        cell = collapse(dict(zip(AXES, values, strict=True)))
        if cell["real_fraction"] == 0 and cell["synth_multiplier"] == 0:
            continue
        key = json.dumps(cell, sort_keys=True)
        if key not in seen:
            seen.add(key)
            cells.append(cell)
    return cells


def varying_axes(cells: list[dict[str, Any]]) -> list[str]:
    """The axes that take more than one value across ``cells`` (in :data:`AXES` order)."""
    return [a for a in AXES if len({json.dumps(c.get(a)) for c in cells}) > 1]
