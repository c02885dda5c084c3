"""Splits and subsets: which clips train, validate and test, all seeded.

- :func:`split_roles`: which manifest splits (or folds) a trial trains, validates and tests on.
- :func:`group_split`, :func:`stratified_split`: seeded splits for corpora with no official one.
- :func:`stratified_subset`: the nested ``real_fraction`` subset. For a fixed seed, each class's
  clips are put in one random order and a fraction takes a prefix of it, so a smaller fraction is
  always a subset of a larger one, and results for 0.05, 0.1, ... 1.0 differ only by the extra clips.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

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


def group_split(
    groups: Iterable[str], seed: int = 0, valid: float = 0.1, test: float = 0.2
) -> dict[str, str]:
    """Assign whole groups (speakers, actors, source files) to train/valid/test, seeded.

    Every split gets at least one group when there are three or more, so no group is in two splits.
    """
    unique = sorted(set(groups))
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    n_test = max(1, round(test * len(unique))) if test > 0 and len(unique) >= 3 else 0
    n_valid = max(1, round(valid * len(unique))) if valid > 0 and len(unique) >= 3 else 0
    assignment = {}
    for position, group in enumerate(order):
        assignment[group] = (
            "test" if position < n_test else "valid" if position < n_test + n_valid else "train"
        )
    return assignment


def stratified_split(
    keys: list[str], labels: list[str], seed: int = 0, valid: float = 0.1, test: float = 0.2
) -> dict[str, str]:
    """Assign clips to train/valid/test within each class, seeded (for corpora with no official split)."""
    by_class: dict[str, list[str]] = {}
    for key, label in zip(keys, labels, strict=True):
        by_class.setdefault(label, []).append(key)
    assignment = {}
    for label, members in by_class.items():
        order = class_order(members, seed, label)
        n_test, n_valid = round(test * len(order)), round(valid * len(order))
        for position, key in enumerate(order):
            assignment[key] = (
                "test" if position < n_test else "valid" if position < n_test + n_valid else "train"
            )
    return assignment


STANDARD_SPLITS = {"train", "valid", "test"}


VALID_SUFFIX = "-valid"


def largest_training_counts(rows: list[tuple[str, str]]) -> Counter:
    """Per label, its clips in the largest training part over the folds of ``(split, label)`` rows (the
    train split where there are no folds): what ``synth_multiplier`` scales, the same for every fold."""
    splits = {split for split, _ in rows}
    folds = [None] if splits <= STANDARD_SPLITS else sorted({s.removesuffix(VALID_SUFFIX) for s in splits})
    counts: Counter = Counter()
    for fold in folds:
        train_splits, _, _ = split_roles(splits, fold)
        counts = counts | Counter(label for split, label in rows if split in train_splits)
    return counts


def with_unrecorded(counts: dict[str, int], class_names: Sequence[str], recorded: set[str]) -> dict[str, int]:
    """``counts`` with each class that has no recording at all (``class_names`` minus ``recorded``)
    given the median count of the recorded classes: what ``synth_multiplier`` scales for a class
    trained from synthetic clips only.

    >>> with_unrecorded({"yes": 10, "no": 12, "up": 20}, ["yes", "no", "on", "up"], {"yes", "no", "up"})
    {'yes': 10, 'no': 12, 'up': 20, 'on': 12}
    """
    present = sorted(n for label, n in counts.items() if label in recorded and n > 0)
    fill = present[(len(present) - 1) // 2] if present else 0
    return {**counts, **{label: fill for label in class_names if label not in recorded}}


def split_roles(splits: Iterable[str], fold: int | None) -> tuple[set[str], set[str], set[str]]:
    """Which manifest splits a trial trains, validates and tests on.

    Manifests with ``train/valid/test`` use them as they are (``fold`` must be ``None``).
    Manifests whose splits are fold numbers test on ``fold``, validate on the next fold
    (cyclically) and train on the rest. Where folds carry a validation part of their own
    (``"2-valid"`` beside ``"2"``, for corpora with too few speakers to spare one for validation,
    such as TESS's two), the test fold is tested whole, and the other folds train on their main
    parts and validate on their validation parts.

    >>> split_roles({"1", "2", "3", "4", "5"}, 5)
    ({'2', '3', '4'}, {'1'}, {'5'})
    >>> split_roles({"1", "1-valid", "2", "2-valid"}, 1)
    ({'2'}, {'2-valid'}, {'1', '1-valid'})

    Fold 0 tests on every fold and trains and validates on none (synthetic-only trials).
    """
    splits = set(splits)
    if splits <= STANDARD_SPLITS:
        if fold is not None:
            raise ValueError(
                f"this dataset has fixed train/valid/test splits; fold has to be unset, but is {fold}"
            )
        return {"train"}, {"valid"}, {"test"}
    main = sorted({s.removesuffix(VALID_SUFFIX) for s in splits}, key=lambda s: int(s) if s.isdigit() else s)
    if fold == 0:  # every fold is test data: a synthetic-only trial tests on every real clip once
        return set(), set(), splits
    if fold is None or str(fold) not in main:
        raise ValueError(
            f"this dataset is split into folds {', '.join(main)}; fold has to be one of them, but is {fold}"
        )
    test = str(fold)
    if any(s.endswith(VALID_SUFFIX) for s in splits):
        rest = [f for f in main if f != test]
        return set(rest), {f + VALID_SUFFIX for f in rest} & splits, {test, test + VALID_SUFFIX} & splits
    valid = main[(main.index(test) + 1) % len(main)]
    return splits - {test, valid}, {valid}, {test}
