"""Training data: the real subset, the synthetic clips and their mixture, read straight from Parquet.

Trials read manifests and shards with Arrow on the worker; no audio passes through the driver.
"""

from __future__ import annotations

import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from raysynth import storage
from raysynth.audio import AudioDecodeError, decode_flac, fix_length
from raysynth.datasets import DatasetError, read_manifest
from raysynth.datasets.manifest import manifest_classes
from raysynth.datasets.sampling import (
    largest_training_counts,
    require_classes,
    split_roles,
    stratified_subset,
    with_unrecorded,
)
from raysynth.storage import SHARD_GLOB, Location


@dataclass
class ClipSet:
    """Waveforms of equal length, their label ids and clip ids."""

    waves: np.ndarray  # [n, num_samples] float32
    labels: np.ndarray  # [n] int64
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def concat(*sets: ClipSet) -> ClipSet:
        sets = tuple(s for s in sets if len(s))
        if not sets:
            raise ValueError("nothing to concatenate: every clip set is empty")
        return ClipSet(
            np.concatenate([s.waves for s in sets]),
            np.concatenate([s.labels for s in sets]),
            [i for s in sets for i in s.ids],
        )


def decode_rows(
    table: pa.Table, num_samples: int, sample_rate: int, workers: int = 4, source: str = ""
) -> ClipSet:
    """Decode the FLAC audio column of ``table`` into a fixed-length :class:`ClipSet`; a clip
    that does not decode is an error naming it and ``source``."""
    rows = table.select(["id", "label_id", "audio", "sample_rate"]).to_pylist()
    for row in rows:
        if row["sample_rate"] != sample_rate:
            raise ValueError(f"clip {row['id']} is at {row['sample_rate']} Hz, expected {sample_rate} Hz")
    waves = np.zeros((len(rows), num_samples), dtype=np.float32)
    broken: list[str] = []

    def decode(i: int) -> None:
        try:
            waves[i] = fix_length(decode_flac(rows[i]["audio"]["bytes"])[0], num_samples)
        except AudioDecodeError as error:
            broken.append(f"{rows[i]['id']} ({str(error).splitlines()[0][-60:]})")

    # libsndfile releases the GIL while decoding, so threads decode in parallel.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(decode, range(len(rows))))
    if broken:
        # Refused, not skipped: a clip silently missing from a test set changes the score's meaning.
        raise DatasetError(
            f"{source or 'a clip table'}: {len(broken)} clip(s) whose audio cannot be decoded, first: "
            f"{', '.join(sorted(broken)[:3])}. Prepare the manifest again (--force), or delete the "
            f"shard so that its clips are generated again"
        )
    return ClipSet(waves, np.array([r["label_id"] for r in rows], dtype=np.int64), [r["id"] for r in rows])


@dataclass
class RealData:
    train: pa.Table  # the real_fraction subset
    valid: pa.Table
    test: pa.Table
    class_names: list[str]
    train_counts: dict[str, int]  # per class, in the full training split (a test-only corpus: its test split)


def load_real(manifest: Path, real_fraction: float, seed: int, fold: int | None = None) -> RealData:
    """Split a manifest and take the stratified, nested ``real_fraction`` of its training part.

    Args:
        manifest: the real manifest.
        real_fraction: fraction of each class's training clips to keep.
        seed: subset seed.
        fold: the test fold, for manifests split into folds (see :func:`split_roles`).
    """
    table = read_manifest(manifest)
    split = table.column("split").to_numpy(zero_copy_only=False)
    train_splits, valid_splits, test_splits = split_roles(set(split), fold)
    labels = table.column("label").to_pylist()
    label_ids = table.column("label_id").to_pylist()
    names = dict(sorted(set(zip(label_ids, labels, strict=True))))
    # The class list it was prepared with (its rows are checked against it), one output per label id,
    # so that a class with no clip never shifts the others (an older manifest: the classes its rows name).
    class_names = manifest_classes(manifest) or [names[i] for i in sorted(names)]
    empty = [name for i, name in enumerate(class_names) if i not in names]
    if empty and real_fraction > 0:
        print(f"warning: {manifest}: class(es) {', '.join(map(repr, empty))} have no recording: only synthetic "
              f"clips train them, and no test clip scores them", file=sys.stderr)  # fmt: skip
    present = [name for i, name in enumerate(class_names) if i in names]
    train = table.filter(pa.array(np.isin(split, sorted(train_splits))))
    ids = train.column("id").to_pylist()
    train_labels = train.column("label").to_pylist()
    chosen = set(stratified_subset(ids, train_labels, real_fraction, seed))
    subset = train.filter(pa.array([i in chosen for i in ids], type=pa.bool_()))
    if real_fraction > 0:
        require_classes(subset.column("label").to_pylist(), present, real_fraction, str(manifest))
    valid = table.filter(pa.array(np.isin(split, sorted(valid_splits))))
    test = table.filter(pa.array(np.isin(split, sorted(test_splits))))
    where = f"{manifest}" + (f", fold {fold}" if fold is not None else "")
    for role, part, needed in (("test", test, True), ("validation", valid, real_fraction > 0)):
        absent = sorted(set(present) - set(part.column("label").to_pylist()))
        if needed and absent:
            raise DatasetError(
                f"{where}: class(es) {', '.join(map(repr, absent))} have no {role} clip in splits "
                f"{sorted(test_splits if role == 'test' else valid_splits)}; a {role} score would leave them out"
            )
    if fold == 0:  # every fold tested: synthetic clips scaled as for any one fold (as generated)
        counts = largest_training_counts(list(zip(split.tolist(), labels, strict=True)))
    else:
        counts = Counter(train_labels) or Counter(test.column("label").to_pylist())  # a test-only corpus
    counts = with_unrecorded(dict(counts), class_names, set(names.values()))  # trained from synthetic clips
    return RealData(train=subset, valid=valid, test=test, class_names=class_names, train_counts=counts)


def load_synthetic(
    shards: Location, recipe: str, draw: int, counts: dict[str, int], split: str = "train"
) -> pa.Table:
    """The first ``counts[label]`` clips (by index) of each class, of one recipe, draw and split.

    Args:
        shards: the recipe's shard folder (local or s3://).
        recipe: the recipe hash (clips of any other recipe are never read).
        draw: the draw seed of the trial.
        counts: clips per label.
        split: ``train``, or ``valid`` (zero-shot validation clips, generated on top).

    Raises:
        FileNotFoundError: a class has fewer clips on disk than asked for.
    """
    files = storage.list_files(shards, SHARD_GLOB)
    if not files:
        raise FileNotFoundError(f"no synthetic shards in {shards}; run the generation stage first")
    wanted = (
        (pds.field("recipe") == recipe) & (pds.field("draw_seed") == draw) & (pds.field("split") == split)
    )
    table = storage.unique_ids(files, filter=wanted)
    labels = table.column("label").to_pylist()
    index = table.column("index").to_pylist()
    keep = [i < counts.get(label, 0) for label, i in zip(labels, index, strict=True)]
    table = table.filter(pa.array(keep, type=pa.bool_())).sort_by(
        [("label_id", "ascending"), ("index", "ascending")]
    )
    have = Counter(table.column("label").to_pylist())
    short = {label: (have.get(label, 0), n) for label, n in counts.items() if have.get(label, 0) < n}
    if short:
        detail = ", ".join(f"'{k}' {h}/{n}" for k, (h, n) in sorted(short.items()))
        raise FileNotFoundError(
            f"{shards} (recipe {recipe}, draw {draw}, {split}) lacks synthetic clips: {detail}"
        )
    return table


def noise_sources(noise_manifest: str | None) -> dict[str, set[str]]:
    """The source ids of a noise manifest's training and test recordings."""
    if noise_manifest is None:
        return {"train": set(), "test": set()}
    table = read_manifest(noise_manifest, columns=["split", "source_id"]).to_pydict()
    out: dict[str, set[str]] = {"train": set(), "test": set()}
    for split, source in zip(table["split"], table["source_id"], strict=True):
        out.setdefault(split, set()).add(source)
    return out


def without_sources(table: pa.Table, sources: set[str]) -> tuple[pa.Table, int]:
    """``table`` without the rows cut from ``sources`` (held-out test-noise recordings), and how many."""
    if not sources or table.num_rows == 0:
        return table, 0
    keep = pc.invert(pc.is_in(table.column("source_id"), value_set=pa.array(sorted(sources))))
    kept = table.filter(keep)
    return kept, table.num_rows - kept.num_rows
