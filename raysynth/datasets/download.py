"""Fetching corpora: streamed downloads, safe extraction, and a completion marker.

As lhotse does, an archive is downloaded and unpacked into a temporary folder beside the
target, moved into place in one rename, and marked ``.completed``. A half-downloaded or
half-unpacked corpus therefore never sits where a recipe would read it.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from raysynth.datasets.registry import DatasetError

COMPLETED = ".completed"


def download_file(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``target`` (through a temporary name), with a clear error offline."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".part-{target.name}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        tmp.unlink(missing_ok=True)
        raise DatasetError(
            f"cannot download {url}: {error}. This needs network access; on an offline machine, "
            f"fetch the archive elsewhere and unpack it under the data root."
        ) from error
    tmp.replace(target)
    return target


def is_complete(corpus_dir: Path) -> bool:
    """Whether ``corpus_dir`` holds a finished download (its ``.completed`` marker)."""
    return (Path(corpus_dir) / COMPLETED).is_file()


def download_and_extract(url: str, target_dir: str | Path, name: str, keep: str | None = None) -> Path:
    """Download an archive and unpack it into ``<target_dir>/<name>``, atomically, with a marker.

    Args:
        url: the archive (zip or tar, any compression tarfile reads).
        target_dir: the data root.
        name: the corpus folder.
        keep: a glob of one folder inside the archive to keep as ``<name>/<its name>`` (FSDD keeps
            ``**/recordings``); ``None`` keeps the whole archive.

    Returns:
        ``<target_dir>/<name>``, already complete if it was downloaded before.
    """
    target_dir = Path(target_dir)
    corpus_dir = target_dir / name
    if is_complete(corpus_dir):
        return corpus_dir
    if corpus_dir.exists() and any(corpus_dir.iterdir()):
        raise DatasetError(
            f"{corpus_dir} exists and is not empty, but is not a completed download (no {COMPLETED} "
            f"marker); remove it, or prepare from it without --download"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-partial-", dir=target_dir) as tmp:
        staging = Path(tmp) / name
        archive = download_file(url, Path(tmp) / f"archive-{Path(url).name or 'download'}")
        safe_extract(archive, Path(tmp) / "unpacked")
        archive.unlink()
        if keep is None:
            (Path(tmp) / "unpacked").rename(staging)
        else:
            found = sorted((Path(tmp) / "unpacked").glob(keep))
            if not found:
                raise DatasetError(f"the archive from {url} has no folder matching {keep}")
            staging.mkdir()
            found[0].rename(staging / found[0].name)
        (staging / COMPLETED).write_text(url + "\n")
        if corpus_dir.exists():
            corpus_dir.rmdir()  # empty (checked above)
        staging.rename(corpus_dir)
    return corpus_dir


def safe_extract(archive: Path, target_dir: Path) -> None:
    """Extract a zip or tar archive, refusing members that would land outside ``target_dir``."""
    target_dir = target_dir.resolve()
    target_dir.mkdir(parents=True, exist_ok=True)

    def check(name: str) -> None:
        dest = (target_dir / name).resolve()
        if dest != target_dir and target_dir not in dest.parents:
            raise DatasetError(f"{archive}: member '{name}' would extract outside {target_dir}; refusing")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                check(name)
            zf.extractall(target_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                check(member.name)
                if member.issym() or member.islnk():
                    raise DatasetError(f"{archive}: member '{member.name}' is a link; refusing")
            tf.extractall(target_dir, filter="data")
    else:
        raise DatasetError(f"{archive} is neither a zip nor a tar archive")


def locate(corpus_dir: Path, marker: str, dataset: str, layout: str, url: str) -> Path:
    """The folder under ``corpus_dir`` (itself, or one level down) that holds ``marker``.

    Archives unpack into a top folder (``ESC-50-master/``, ``UrbanSound8K/``); both that folder
    and its parent are accepted as the corpus directory.
    """
    corpus_dir = Path(corpus_dir)
    candidates = (
        [corpus_dir, *sorted(p for p in corpus_dir.glob("*") if p.is_dir())] if corpus_dir.is_dir() else []
    )
    for candidate in candidates:
        if list(candidate.glob(marker)):
            return candidate
    raise DatasetError(
        f"{corpus_dir} does not look like {dataset}: expected the layout {layout} (looked for {marker}). "
        f"Get the corpus from {url}"
    )
