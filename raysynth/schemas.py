"""The Parquet contracts between rooms (see DESIGN.md): real manifests and synthetic shards.

Audio is a ``struct<bytes: binary, path: string>`` column, the Hugging Face ``datasets`` Audio
storage layout, holding FLAC bytes. Files are written to a hidden temporary name and renamed,
so a reader never sees a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# Bumped whenever a schema changes; part of every manifest's and clip recipe's hash, so files of an
# older schema are rebuilt in a folder of their own, never read against the new contract.
SCHEMA_VERSION = 2

AUDIO_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

REAL_MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("label", pa.string()),
        ("label_id", pa.int64()),  # int64: the Arrow type of a datasets ClassLabel
        ("label_text", pa.string()),
        ("audio", AUDIO_TYPE),
        ("sample_rate", pa.int32()),
        ("num_samples", pa.int64()),
        ("speaker", pa.string()),
        ("orig_sample_rate", pa.int32()),
        ("orig_channels", pa.int16()),
        # sha256 (16 hex) of the recording the clip was cut from: copies of one recording share it,
        # so train/test disjointness is checked down to the source file.
        ("source_id", pa.string()),
    ]
)

SYNTH_SHARD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("label", pa.string()),
        ("label_id", pa.int64()),  # int64: the Arrow type of a datasets ClassLabel
        ("generator", pa.string()),
        ("model_id", pa.string()),
        ("strategy", pa.string()),
        ("recipe", pa.string()),  # hash of every setting that changes the audio (generation_recipe)
        ("split", pa.string()),  # train, or valid: the zero-shot validation clips, made on top
        ("draw_seed", pa.int64()),  # the run-level seed this clip was drawn under
        ("prompt", pa.string()),
        ("seed", pa.int64()),  # the planned per-clip seed, part of the id
        ("attempt", pa.int16()),  # regenerations by the quality guard (0: the planned seed made it)
        ("params", pa.string()),  # JSON: what the backend drew for this clip (tts: voice, rate, ...)
        ("index", pa.int64()),
        ("sample_rate", pa.int32()),
        ("num_samples", pa.int64()),
        ("audio", AUDIO_TYPE),
        ("gen_seconds", pa.float32()),
    ]
)

PROVENANCE_KEY = b"raysynth"
HF_KEY = b"huggingface"  # where Hugging Face datasets reads a file's features
RECIPE_KEY = b"raysynth_recipe"


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


def with_hf_features(table: pa.Table, sample_rate: int, class_names: list[str]) -> pa.Table:
    """``table`` with Hugging Face ``datasets`` features in its schema metadata: ``audio`` as
    ``Audio(sampling_rate)`` and ``label_id`` as ``ClassLabel(names)``, every other column as the
    ``Value`` of its Arrow type. ``load_dataset("parquet", ...)`` then decodes audio and names labels
    with no cast."""
    features: dict[str, Any] = {}
    for field in table.schema:
        if field.name == "audio":
            features["audio"] = {"sampling_rate": int(sample_rate), "decode": True, "_type": "Audio"}
        elif field.name == "label_id":
            features["label_id"] = {"names": list(class_names), "_type": "ClassLabel"}
        else:
            features[field.name] = {"dtype": str(field.type), "_type": "Value"}
    metadata = dict(table.schema.metadata or {})
    metadata[HF_KEY] = json.dumps({"info": {"features": features}}).encode()
    return table.replace_schema_metadata(metadata)


CONTENT_KEY = b"raysynth.manifest"  # the class list and a hash of the rows' labels, written at prepare


def label_content(table: pa.Table) -> str:
    """A hash of what a manifest says of each clip: id, split, label, label id (not the audio)."""
    digest = hashlib.sha256()
    for name in ("id", "split", "label", "label_id"):
        digest.update(json.dumps(table.column(name).to_pylist()).encode())
    return digest.hexdigest()[:16]


def with_manifest_record(table: pa.Table, class_names: list[str]) -> pa.Table:
    """``table`` with its class list and :func:`label_content` in the schema metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[CONTENT_KEY] = json.dumps(
        {"classes": list(class_names), "labels": label_content(table)}
    ).encode()
    return table.replace_schema_metadata(metadata)


def manifest_record(schema: pa.Schema) -> dict[str, Any] | None:
    """The class list and label hash a manifest was written with (``None``: an older manifest)."""
    raw = (schema.metadata or {}).get(CONTENT_KEY)
    return json.loads(raw) if raw else None


def class_names_of(ids_and_labels) -> list[str]:
    """``names[label_id]`` from ``(label_id, label)`` pairs (an id with no label gets ``"<id>"``)."""
    found = dict(ids_and_labels)
    return [str(found.get(i, i)) for i in range(max(found, default=-1) + 1)]


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


def file_id(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The ``source_id`` of a file: the first 16 hex digits of the sha256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def bytes_id(data: bytes) -> str:
    """The ``source_id`` of audio made in memory (test factories): the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def device_name() -> str:
    """The device provenance records: ``cpu``, or the CUDA device this process holds (``NVIDIA H100 ...``)."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def read_provenance(path: Path) -> dict[str, Any]:
    """The provenance dict stored in a Parquet file's metadata (empty if none)."""
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}
