"""The shard store: a local folder or an object store (``s3://``, ``gs://``), through pyarrow's filesystems.

Local shards are written to a hidden temporary file and renamed, so a reader never sees half a
shard. On an object store a PUT (multipart included) makes the object visible only once it is
complete, so shards are written to their final key directly.

Credentials and endpoints come from the environment, as pyarrow reads them (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, and ``AWS_ENDPOINT_URL`` for S3-compatible servers).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

Location = str | Path
SHARD_GLOB = "part-*.parquet"


class StorageError(RuntimeError):
    """A shard store that cannot be reached, with the location and the cause."""


class CorruptArtifact(StorageError):
    """A file the platform wrote that cannot be read back (truncated, foreign, or a pickle of code)."""


def load_checkpoint(path: str | Path, what: str) -> dict:
    """A torch checkpoint read with ``weights_only=True``: tensors and plain data only, so a file in a
    shared work dir can never run code when read. Raises :class:`CorruptArtifact` naming the file."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, a foreign pickle, a global weights_only refuses
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise CorruptArtifact(
            f"{what} {path} cannot be read as a checkpoint of tensors and plain data ({reason}); "
            f"delete it and run again to rebuild it"
        ) from None
    if not isinstance(state, dict):
        raise CorruptArtifact(f"{what} {path} holds a {type(state).__name__}, not a checkpoint; delete it")
    return state


def is_remote(location: Location) -> bool:
    """True for URIs with a scheme other than ``file://`` (s3://, gs://, ...)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def join(location: Location, *parts: str) -> Location:
    """``location / parts``: a Path for local folders, a URI string for object stores."""
    if is_remote(location):
        return "/".join([str(location).rstrip("/"), *parts])
    return Path(location).joinpath(*parts)


def _filesystem(location: Location) -> tuple[pafs.FileSystem, str]:
    if not is_remote(location):
        return pafs.LocalFileSystem(), str(Path(location).resolve())
    try:
        return pafs.FileSystem.from_uri(str(location))
    except (pa.ArrowException, OSError) as error:
        raise StorageError(f"cannot open the shard store {location}: {error}") from error


def _uri(location: Location, path: str) -> str:
    """A path inside ``location``'s filesystem as a location again."""
    if not is_remote(location):
        return path
    return f"{str(location).split('://', 1)[0]}://{path}"


def list_files(location: Location, pattern: str = SHARD_GLOB) -> list[str]:
    """The files directly in ``location`` whose names match ``pattern``, sorted; [] if it does not exist."""
    fs, path = _filesystem(location)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except OSError as error:
        raise StorageError(f"cannot list the shard store {location}: {error}") from error
    names = [i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.base_name, pattern)]
    return sorted(_uri(location, name) for name in names)


def exists(location: Location) -> bool:
    """Whether a file or folder is at ``location`` (local path or ``s3://`` URI)."""
    fs, path = _filesystem(location)
    try:
        return fs.get_file_info(path).type != pafs.FileType.NotFound
    except OSError as error:
        raise StorageError(f"cannot reach {location}: {error}") from error


def dataset(files: list[str]) -> pds.Dataset:
    """A pyarrow dataset over shard files of one store (as listed by :func:`list_files`)."""
    if not files:
        return pds.dataset([], format="parquet")
    fs, _ = _filesystem(files[0])  # one filesystem (one S3 client) for all files
    paths = [f.split("://", 1)[1] if is_remote(f) else str(Path(f).resolve()) for f in files]
    return pds.dataset(paths, format="parquet", filesystem=fs)


def unique_ids(files: list[str], columns: list[str] | None = None, filter=None) -> pa.Table:
    """The rows of shard ``files`` (a filter and columns as pyarrow's), each clip id once.

    A shard copied under a second name, or two runs that batched one plan differently, put one clip
    id in two files; the first file (by name) wins, and the duplicates are counted on stderr."""
    wanted = None if columns is None else list(dict.fromkeys(["id", *columns]))
    parts = [dataset([f]).to_table(columns=wanted, filter=filter) for f in files]
    first: dict[str, str] = {}
    kept, duplicates = [], Counter()
    for file, part in zip(files, parts, strict=True):
        ids = part.column("id").to_pylist()
        mask = [i not in first for i in ids]
        for clip, new in zip(ids, mask, strict=True):
            if new:
                first[clip] = file
            else:
                duplicates[(Path(str(file)).name, Path(str(first[clip])).name)] += 1
        kept.append(part.filter(pa.array(mask, type=pa.bool_())))
    if duplicates:
        where = ", ".join(f"{f} repeats {n} of {g}" for (f, g), n in sorted(duplicates.items()))
        print(f"warning: {sum(duplicates.values())} duplicate clip id(s) in {Path(str(files[0])).parent} "
              f"({where}): each clip is read once, from the first file by name", file=sys.stderr)  # fmt: skip
    if not kept:
        return dataset([]).to_table(columns=wanted, filter=filter)
    table = pa.concat_tables(kept, promote_options="default")
    return table if columns is None else table.select(columns)


def read_schema(file: str) -> pa.Schema:
    """A Parquet file's schema; a file that is not whole Parquet is a :class:`StorageError` that names it."""
    fs, path = _filesystem(file)
    try:
        return pq.read_schema(path, filesystem=fs)
    except (pa.ArrowException, OSError) as error:
        raise StorageError(
            f"{file} is not a readable Parquet file ({str(error).splitlines()[0][:100]}): a copy cut "
            f"short? Delete it and run again; only its clips are made again"
        ) from error


def write_table(table: pa.Table, location: Location, provenance: dict[str, Any] | None = None) -> str:
    """Write one Parquet file so that readers see it whole or not at all; returns its location."""
    from raysynth.schemas import with_provenance, write_table_atomic

    if not is_remote(location):
        try:
            return str(write_table_atomic(table, Path(location), provenance))
        except OSError as error:  # a full disk, a read-only folder: name the place, keep the cause
            raise StorageError(f"cannot write {location}: {error.strerror or error}") from error
    fs, path = _filesystem(location)
    try:
        pq.write_table(with_provenance(table, provenance), path, filesystem=fs)
    except OSError as error:
        raise StorageError(f"cannot write {location}: {error}") from error
    return str(location)


def check_writable(location: Location) -> None:
    """Make sure ``location`` (a folder) can be written, before any work that would write there
    starts: a local folder is created and a probe file written and removed; an object store gets
    a probe object. Raises :class:`StorageError` naming the location and the cause."""
    probe = join(location, f".raysynth-write-probe-{uuid.uuid4().hex}")  # one per caller, threads too
    if not is_remote(location):
        try:
            Path(location).mkdir(parents=True, exist_ok=True)
            Path(probe).write_bytes(b"")
            Path(probe).unlink()
        except OSError as error:
            raise StorageError(
                f"cannot write to {location}: {error.strerror or error}; choose a writable folder"
            ) from error
        return
    fs, path = _filesystem(probe)
    try:
        with fs.open_output_stream(path) as stream:
            stream.write(b"")
        fs.delete_file(path)
    except OSError as error:
        raise StorageError(f"cannot write to {location}: {error}") from error


def remove_stale_temporaries(location: Location, older_than_s: float = 3600.0) -> int:
    """Delete hidden ``.tmp-*`` files a killed writer left in a local shard folder; returns how many.

    Only files older than ``older_than_s`` go, so a writer still running elsewhere keeps its file.
    Object stores have none: their writes are not staged.
    """
    import time

    if is_remote(location) or not Path(location).is_dir():
        return 0
    removed = 0
    for path in Path(location).glob(".tmp-*"):
        if time.time() - path.stat().st_mtime > older_than_s:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def write_text(location: Location, text: str) -> None:
    """Write a small text file (a record next to the results), locally or on an object store."""
    if not is_remote(location):
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_text(text)
        os.replace(tmp, path)
        return
    fs, path = _filesystem(location)
    with fs.open_output_stream(path) as stream:
        stream.write(text.encode())


def read_text(location: Location) -> str | None:
    """A small text file's content, locally or on an object store; ``None`` when it does not exist."""
    if not is_remote(location):
        path = Path(location)
        return path.read_text() if path.is_file() else None
    if not exists(location):
        return None
    fs, path = _filesystem(location)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def download_tree(location: Location, destination: Path) -> Path:
    """Copy a remote folder (an experiment directory) to a local one; a local folder is returned as is."""
    if not is_remote(location):
        return Path(location)
    fs, path = _filesystem(location)
    destination.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(
        path, str(destination), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem()
    )
    return destination
