"""What the prepare summary says about a corpus's clips beyond their counts: speakers heard in more
than one split, folds where a class has few clips, clips far longer than the others."""

from __future__ import annotations

from collections import Counter

import numpy as np

from raysynth.datasets.sampling import VALID_SUFFIX

FEW_CLIPS = 3  # a fold or split with fewer clips of a class is flagged


def shared_speakers(rows: list[dict]) -> int | None:
    """How many speakers have clips in more than one split (``None`` when no clip names a speaker).

    A fold's validation part (``"2-valid"``) counts as its fold: a trial never tests on it apart.
    """
    splits: dict[str, set[str]] = {}
    for row in rows:
        if row["speaker"] is not None:
            splits.setdefault(row["speaker"], set()).add(row["split"].removesuffix(VALID_SUFFIX))
    return sum(len(s) > 1 for s in splits.values()) if splits else None


def fold_notes(rows: list[dict]) -> list[str]:
    """Flags for splits (or folds) where a class has no clip, or fewer than :data:`FEW_CLIPS`."""
    counts = Counter((row["split"], row["label"]) for row in rows)
    labels = sorted({row["label"] for row in rows})
    notes = []
    for split in sorted({row["split"] for row in rows}):
        none = [label for label in labels if counts[(split, label)] == 0]
        few = [
            f"{label} ({counts[(split, label)]})"
            for label in labels
            if 0 < counts[(split, label)] < FEW_CLIPS
        ]
        if none:
            notes.append(f"split {split} has no clip of: {', '.join(none[:10])}")
        if few:
            notes.append(f"split {split} has fewer than {FEW_CLIPS} clips of: {', '.join(few[:10])}")
    return notes


LONG_FACTOR = 10  # a clip this many times longer than the corpus's median clip is flagged


def one_line(error: BaseException) -> str:
    """An error's message whole, on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def long_clip_notes(rows: list[dict], sample_rate: int) -> list[str]:
    """A note naming clips far longer than the corpus's median clip (a 10-minute file in a corpus of
    1 s clips is stored whole, and trials would read one crop of it)."""
    median = float(np.median([row["num_samples"] for row in rows]))
    long = [row for row in rows if row["num_samples"] > LONG_FACTOR * median]
    if not long:
        return []
    first = ", ".join(
        f"{row['audio']['path']} ({row['num_samples'] / sample_rate:.1f} s)" for row in long[:5]
    )
    return [f"{len(long)} clip(s) more than {LONG_FACTOR}x longer than the median clip "
            f"({median / sample_rate:.2f} s), first: {first}; check that they belong to this corpus"]  # fmt: skip


def task_classes(dataset: str, rows: list[dict], classes, notes: list[str]) -> list[str]:
    """``classes`` (a task's class list by label id), checked against the rows' label ids; a class no
    row has is named in ``notes`` (it is trained from synthetic clips only, never tested)."""
    from raysynth.datasets.registry import DatasetError

    wrong = sorted({(r["label_id"], r["label"]) for r in rows
                    if not (r["label_id"] < len(classes) and classes[r["label_id"]] == r["label"])})  # fmt: skip
    if wrong:
        raise DatasetError(f"{dataset}: rows whose label id is not its place in the class list: {wrong[:5]}")
    absent = [name for name in classes if name not in {row["label"] for row in rows}]
    if absent:
        notes.append(f"classes with no recording (trained from synthetic clips only, never tested): {absent}")
    return list(classes)
