"""Confusion-driven generation: a second round of clips for the classes a first trial confused.

A round-2 trial (``grid.round: [1, 2]``) is its round-1 trial's cell again, with the same total of
synthetic clips per trial and a different spread over the classes:

1. Of each class's ``n`` clips it keeps the first ``n - floor(share * n)`` round-1 clips
   (:func:`split_counts`, ``confusion.share``).
2. The clips it gave up, summed over the classes, are made again in a second generation round
   (split ``round2`` of the same recipe: its own seeds, so new clips and, for the speech engines,
   new voice draws) and given out over the classes by :func:`allocate`: a part ``confusion.floor``
   evenly, the rest in proportion to each class's errors in its round-1 trial's **validation**
   confusion matrix (the validation clips it missed plus the ones it wrongly called that class, over
   the class's validation clips). The test set never enters it.

So round 1 and round 2 compare at equal total clips; the trial records its round, the round-2 counts
per class (``round2_counts``) and, through its recipe string, that its clips come from two rounds.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

ROUND2_SPLIT = "round2"
NOT_IN_KEY = ("round",)


def cell_key(config: dict[str, Any]) -> str:
    """The key that pairs a round-2 trial with its round-1 trial: every value of its config but the round."""
    return json.dumps({k: v for k, v in config.items() if k not in NOT_IN_KEY}, sort_keys=True, default=str)


def split_counts(counts: dict[str, int], share: float) -> tuple[dict[str, int], int]:
    """The round-1 clips a round-2 trial keeps per class, and how many it gives to round 2 in all."""
    keep = {label: n - math.floor(share * n) for label, n in counts.items()}
    return keep, sum(counts.values()) - sum(keep.values())


def class_errors(confusion: list[list[int]], class_names: list[str]) -> dict[str, float]:
    """Each class's validation errors over its validation clips: the ones it missed (its row) plus
    the ones it was wrongly given (its column). A class with no validation clip has none."""
    cm = np.asarray(confusion, dtype=float)
    if cm.shape != (len(class_names), len(class_names)):
        raise ValueError(f"a confusion matrix of {cm.shape} for {len(class_names)} classes")
    support, diagonal = cm.sum(axis=1), np.diag(cm)
    errors = (support - diagonal) + (cm.sum(axis=0) - diagonal)
    return {name: float(errors[i] / support[i]) if support[i] else 0.0 for i, name in enumerate(class_names)}


def allocate(
    confusion: list[list[int]], class_names: list[str], labels: list[str], total: int, floor: float
) -> dict[str, int]:
    """``total`` round-2 clips over ``labels``: ``floor`` of them evenly, the rest by :func:`class_errors`
    (evenly where no class has an error), rounded by largest remainder (ties to the earlier class).

    >>> allocate([[9, 1], [0, 10]], ["a", "b"], ["a", "b"], 10, 0.0)
    {'a': 5, 'b': 5}
    >>> allocate([[8, 2], [0, 10]], ["a", "b"], ["a", "b"], 10, 0.2)
    {'a': 5, 'b': 5}
    >>> allocate([[6, 2, 2], [0, 10, 0], [0, 0, 10]], ["a", "b", "c"], ["a", "b", "c"], 12, 0.0)
    {'a': 6, 'b': 3, 'c': 3}
    """
    if total < 0 or not 0 <= floor <= 1:
        raise ValueError(f"total {total} and floor {floor}: a count >= 0 and a part in [0, 1]")
    errors = class_errors(confusion, class_names)
    weights = np.array([errors[label] for label in labels], dtype=float)
    spread = weights / weights.sum() if weights.sum() > 0 else np.full(len(labels), 1 / len(labels))
    exact = total * (floor / len(labels) + (1 - floor) * spread)
    counts = np.floor(exact).astype(int)
    order = sorted(range(len(labels)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - int(counts.sum())]:
        counts[i] += 1
    return {label: int(n) for label, n in zip(labels, counts, strict=True)}
