"""Stratified, seeded, nested subsets of a split.

For a fixed seed, each class's clips are put in one random order; a fraction takes a prefix of
that order. So a smaller fraction is always a subset of a larger one (nested), and results for
0.05, 0.1, ... 1.0 differ only by the extra clips.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np


class EmptyClassError(ValueError):
    """A class that would get no clips at the requested fraction."""


def class_order(ids: Sequence[str], seed: int, label: str) -> list[str]:
    """The seeded random order of one class's clip ids (independent of the other classes)."""
    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    ordered = sorted(ids)
    return [ordered[i] for i in rng.permutation(len(ordered))]


def stratified_subset(ids: Sequence[str], labels: Sequence[str], fraction: float, seed: int) -> list[str]:
    """Pick ``fraction`` of the clips of every class, nested across fractions at a fixed seed.

    Args:
        ids: clip ids.
        labels: the label of each id.
        fraction: in [0, 1]; each class keeps ``round(fraction * n)`` clips, at least one.
        seed: the subset seed.

    Raises:
        EmptyClassError: a class has no clips to draw from.

    >>> stratified_subset(["a", "b", "c", "d"], ["x", "x", "y", "y"], 0.5, seed=0)  # doctest: +SKIP
    ['b', 'c']
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction has to be in [0, 1], but is {fraction}")
    if fraction == 0.0:
        return []
    by_class: dict[str, list[str]] = {}
    for clip_id, label in zip(ids, labels, strict=True):
        by_class.setdefault(label, []).append(clip_id)
    chosen: list[str] = []
    for label in sorted(by_class):
        members = by_class[label]
        keep = max(1, math.floor(fraction * len(members) + 0.5))
        chosen.extend(class_order(members, seed, label)[:keep])
    return chosen


def require_classes(labels: Sequence[str], expected: Sequence[str], fraction: float, what: str) -> None:
    """Raise :class:`EmptyClassError` naming each expected class absent from ``labels``."""
    missing = sorted(set(expected) - set(labels))
    if missing:
        raise EmptyClassError(
            f"{what}: class(es) {', '.join(map(repr, missing))} have no clips at real_fraction={fraction}"
        )
