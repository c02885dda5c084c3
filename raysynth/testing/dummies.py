"""Factories for test-only audio, manifests and shards (lhotse's ``dummies`` pattern)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pyarrow as pa

from raysynth.audio import encode_flac
from raysynth.datasets.toy import TOY_LABELS, make_toy_corpus, make_toy_noise
from raysynth.datasets.toy import toy_clip as dummy_clip
from raysynth.schemas import (
    REAL_MANIFEST_SCHEMA,
    SYNTH_SHARD_SCHEMA,
    bytes_id,
    with_manifest_record,
    write_table_atomic,
)

__all__ = ["TOY_LABELS", "dummy_clip", "dummy_manifest", "dummy_shard", "make_toy_corpus", "make_toy_noise"]


def dummy_manifest(
    path: Path,
    labels: list[str] | None = None,
    per_split: dict[str, int] | None = None,
    sample_rate: int = 16000,
    skip_label_ids: tuple[int, ...] = (),
) -> Path:
    """A real-manifest Parquet of toy clips, with ``per_split`` clips per class and split (none for
    ``skip_label_ids``: classes of the list with no clip), with its class list and label hash."""
    labels = labels or TOY_LABELS
    per_split = per_split or {"train": 6, "valid": 2, "test": 2}
    rows = []
    for label_id, label in enumerate(labels):
        if label_id in skip_label_ids:
            continue
        for split, count in per_split.items():
            for index in range(count):
                wave = dummy_clip(
                    label if label in TOY_LABELS else "beep",
                    seed=zlib.crc32(f"{label}/{split}/{index}".encode()),
                )
                rows.append(
                    {
                        "id": f"dummy/{label}/{split}/{index}",
                        "dataset": "dummy",
                        "split": split,
                        "label": label,
                        "label_id": label_id,
                        "label_text": label,
                        "audio": {"bytes": encode_flac(wave, sample_rate), "path": None},
                        "sample_rate": sample_rate,
                        "num_samples": wave.size,
                        "speaker": None,
                        "orig_sample_rate": sample_rate,
                        "orig_channels": 1,
                        "source_id": bytes_id(f"{label}/{split}/{index}".encode()),
                    }
                )
    table = pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA)
    return write_table_atomic(with_manifest_record(table, list(labels)), Path(path))


def dummy_shard(
    path: Path,
    labels: list[str] | None = None,
    clips_per_class: int = 4,
    sample_rate: int = 16000,
    valid_per_class: int = 0,
    recipe: str = "dummy",
    draw_seed: int = 0,
) -> Path:
    """A synthetic shard of toy clips in the shard schema: ``clips_per_class`` training clips and
    ``valid_per_class`` validation clips per label, of one recipe and draw."""
    labels = labels or TOY_LABELS
    rows = []
    for label_id, label in enumerate(labels):
        for split, count in (("train", clips_per_class), ("valid", valid_per_class)):
            for index in range(count):
                seed = 7919 * index + label_id + (104729 if split == "valid" else 0) + 15485863 * draw_seed
                wave = dummy_clip(label if label in TOY_LABELS else "beep", seed=seed)
                rows.append(
                    {
                        "id": f"synth/{recipe}/{draw_seed}/{label}/{split}/{index}",
                        "dataset": "dummy",
                        "label": label,
                        "label_id": label_id,
                        "generator": "dummy",
                        "model_id": "dummy",
                        "strategy": "label",
                        "recipe": recipe,
                        "split": split,
                        "draw_seed": draw_seed,
                        "prompt": f"{label} sound",
                        "seed": seed,
                        "attempt": 0,
                        "params": "{}",
                        "index": index,
                        "sample_rate": sample_rate,
                        "num_samples": wave.size,
                        "audio": {"bytes": encode_flac(wave, sample_rate), "path": None},
                        "gen_seconds": 0.0,
                    }
                )
    return write_table_atomic(pa.Table.from_pylist(rows, schema=SYNTH_SHARD_SCHEMA), Path(path))
