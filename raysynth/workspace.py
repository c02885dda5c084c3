"""Every artifact of a work dir through one layer, so the work dir can be a folder or an object store.

A work dir may be ``s3://bucket/prefix`` (or any store pyarrow opens): then no node needs a shared
file system. What the platform writes there (manifests, feature and embedding caches, teachers,
score tables, description caches) goes through this module:

- :func:`publish` yields a local temporary path to write a file to; when the block ends without an
  error the file appears whole at its location (locally by rename, on a store by one PUT) and the
  temporary file is removed. A reader never sees half a file.
- :func:`fetch` gives a local path to read a file from: a local file as it is; an object copied once
  into this node's cache, ``<tmp>/raysynth-cache-<uid>/<sha256 of its URI and ETag>/<name>``. A
  rewritten object has another ETag, so a stale copy is never served.
- :func:`is_file`, :func:`read_bytes` and :func:`write_bytes` for the rest.

The node cache holds copies only; :func:`clear_cache` removes it (the driver does at exit).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from raysynth.storage import Location, StorageError, _filesystem, is_remote, join

CACHE_ENV = "RAYSYNTH_NODE_CACHE"
NODE_CACHE = "node-cache:"  # a folder named so is in the cache of the node that uses it
CACHE_MODELS = NODE_CACHE + "models"


def cache_root() -> Path:
    """This node's cache of copies of remote artifacts (``$RAYSYNTH_NODE_CACHE``, else in the temp dir)."""
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / f"raysynth-cache-{os.getuid()}")


def local_folder(value: str) -> Path:
    """A folder a setting names: ``node-cache:<name>`` is in this node's cache, anything else is a path."""
    return cache_root() / value.removeprefix(NODE_CACHE) if value.startswith(NODE_CACHE) else Path(value)


def clear_cache() -> None:
    shutil.rmtree(cache_root(), ignore_errors=True)


def run_cache(work_dir: Location) -> Path | None:
    """For a job on a work dir on an object store: a cache of this run's own, removed at exit.

    Set in the environment before Ray starts, so a local Ray's workers inherit it; on a cluster, the
    other nodes' workers use their default cache (files keyed by content, safe to delete any time).
    """
    import atexit

    if not is_remote(work_dir) or os.environ.get(CACHE_ENV):
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"raysynth-cache-{os.getuid()}-run-"))
    os.environ[CACHE_ENV] = str(folder)
    atexit.register(shutil.rmtree, folder, True)  # before ray.init: runs after Ray's own shutdown
    return folder


def as_location(value: Location) -> Location:
    """A URI stays a string; a local path becomes a Path (``Path("s3://b/k")`` would drop a slash)."""
    return str(value) if is_remote(value) else Path(value)


def is_file(location: Location) -> bool:
    if not is_remote(location):
        return Path(location).is_file()
    fs, path = _filesystem(location)
    try:
        return fs.get_file_info(path).type == pafs.FileType.File
    except OSError as error:
        raise StorageError(f"cannot reach {location}: {error}") from error


def fetch(location: Location) -> Path:
    """A local path holding the file at ``location`` (see the module's docstring)."""
    if not is_remote(location):
        return Path(location)
    fs, path = _filesystem(location)
    try:
        with fs.open_input_file(path) as handle:
            etag = (handle.metadata() or {}).get("ETag", b"")
            key = hashlib.sha256(f"{location}|{etag!r}|{handle.size()}".encode()).hexdigest()[:24]
            local = cache_root() / key / Path(path).name
            if not local.is_file():
                local.parent.mkdir(parents=True, exist_ok=True)
                tmp = local.with_name(f".tmp-{uuid.uuid4().hex}-{local.name}")
                try:
                    with open(tmp, "wb") as out:
                        while block := handle.read(1 << 22):
                            out.write(block)
                    os.replace(tmp, local)
                finally:
                    tmp.unlink(missing_ok=True)
    except FileNotFoundError:
        raise StorageError(f"{location} does not exist") from None
    except (OSError, pa.ArrowException) as error:
        raise StorageError(f"cannot read {location}: {error}") from error
    return local


@contextlib.contextmanager
def publish(location: Location) -> Iterator[Path]:
    """``with publish(loc) as tmp: write(tmp)``: ``loc`` then holds the file, whole (see the module)."""
    remote = is_remote(location)
    if remote:
        folder = Path(tempfile.mkdtemp(prefix="raysynth-publish-"))
        tmp = folder / Path(str(location).split("://", 1)[1]).name
    else:
        target = Path(location)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
    try:
        yield tmp
        if not remote:
            os.replace(tmp, location)
            return
        fs, path = _filesystem(location)
        try:
            with open(tmp, "rb") as source, fs.open_output_stream(path) as out:  # one PUT, visible whole
                shutil.copyfileobj(source, out, length=1 << 22)
        except (OSError, pa.ArrowException) as error:
            raise StorageError(f"cannot write {location}: {error}") from error
    finally:
        tmp.unlink(missing_ok=True)
        if remote:
            shutil.rmtree(tmp.parent, ignore_errors=True)


def write_bytes(location: Location, data: bytes) -> None:
    with publish(location) as tmp:
        tmp.write_bytes(data)


def read_bytes(location: Location) -> bytes | None:
    """A file's bytes, read directly (not cached); ``None`` when it does not exist."""
    if not is_remote(location):
        path = Path(location)
        return path.read_bytes() if path.is_file() else None
    fs, path = _filesystem(location)
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as error:
        raise StorageError(f"cannot read {location}: {error}") from error


def move(location: Location, name: str) -> Location:
    """Rename a file within its folder (a damaged part set aside); returns the new location."""
    if not is_remote(location):
        target = Path(location).with_name(name)
        Path(location).replace(target)
        return target
    target = join(str(location).rsplit("/", 1)[0], name)
    fs, path = _filesystem(location)
    fs.move(path, _filesystem(target)[1])
    return target


def parent(location: Location) -> Location:
    return str(location).rsplit("/", 1)[0] if is_remote(location) else Path(location).parent


def name(location: Location) -> str:
    return str(location).rstrip("/").rsplit("/", 1)[-1] if is_remote(location) else Path(location).name
