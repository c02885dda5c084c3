"""The Parquet contracts between rooms (see DESIGN.md): real manifests and synthetic shards.

Audio is a ``struct<bytes: binary, path: string>`` column, the Hugging Face ``datasets`` Audio
storage layout, holding FLAC bytes. Files are written to a hidden temporary name and renamed,
so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

AUDIO_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

REAL_MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("label", pa.string()),
        ("label_id", pa.int32()),
        ("label_text", pa.string()),
        ("audio", AUDIO_TYPE),
        ("sample_rate", pa.int32()),
        ("num_samples", pa.int64()),
        ("speaker", pa.string()),
        ("orig_sample_rate", pa.int32()),
        ("orig_channels", pa.int16()),
    ]
)

SYNTH_SHARD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("label", pa.string()),
        ("label_id", pa.int32()),
        ("generator", pa.string()),
        ("model_id", pa.string()),
        ("strategy", pa.string()),
        ("prompt", pa.string()),
        ("seed", pa.int64()),
        ("index", pa.int64()),
        ("sample_rate", pa.int32()),
        ("num_samples", pa.int64()),
        ("audio", AUDIO_TYPE),
        ("gen_seconds", pa.float32()),
    ]
)

PROVENANCE_KEY = b"raysynth"


class SchemaError(ValueError):
    """A Parquet file whose columns do not match the contract."""


def check_schema(schema: pa.Schema, expected: pa.Schema, source: str) -> None:
    """Raise :class:`SchemaError` listing missing columns and columns of the wrong type."""
    problems = []
    for field in expected:
        index = schema.get_field_index(field.name)
        if index < 0:
            problems.append(f"missing column '{field.name}' ({field.type})")
        elif not schema.field(index).type.equals(field.type):
            problems.append(f"column '{field.name}' is {schema.field(index).type}, expected {field.type}")
    if problems:
        raise SchemaError(f"{source}: " + "; ".join(problems))


def with_provenance(table: pa.Table, provenance: dict[str, Any] | None) -> pa.Table:
    """``table`` with ``provenance`` stored in its schema metadata (unchanged if ``None``)."""
    if provenance is None:
        return table
    metadata = dict(table.schema.metadata or {})
    metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True, default=str).encode()
    return table.replace_schema_metadata(metadata)


def write_table_atomic(table: pa.Table, path: Path, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``table`` to ``path`` through a hidden temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = with_provenance(table, provenance)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_provenance(path: Path) -> dict[str, Any]:
    """The provenance dict stored in a Parquet file's metadata (empty if none)."""
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}
