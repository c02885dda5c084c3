"""Real manifests: the clips a recipe found, written once as Parquet (FLAC audio), and read back.

A manifest is one Parquet file with the columns of :data:`raysynth.schemas.REAL_MANIFEST_SCHEMA`,
written into the folder :mod:`raysynth.datasets.prepare` keys by its recipe; unreadable files are
skipped and counted in the :class:`PrepareReport`, never fatal.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from raysynth import workspace
from raysynth.audio import AudioDecodeError, Decoded, encode_flac, load_audio
from raysynth.console import Progress
from raysynth.datasets.notes import fold_notes, long_clip_notes, one_line, shared_speakers, task_classes
from raysynth.datasets.registry import DatasetError
from raysynth.schemas import (
    REAL_MANIFEST_SCHEMA,
    check_schema,
    class_names_of,
    file_id,
    label_content,
    manifest_record,
    with_hf_features,
    with_manifest_record,
    write_table_atomic,
)

MANIFEST_NAME = "manifest.parquet"


@dataclass
class ClipSource:
    """One audio file found in a corpus, with its labels and split."""

    id: str
    path: Path
    split: str
    label: str
    label_id: int
    label_text: str
    speaker: str | None = None
    virtual: bool = False  # made by the recipe's loader (e.g. a crop of a noise file), no file of its own
    origin: Path | None = None  # the recording a virtual clip is cut from

    def exists(self) -> bool:
        return self.virtual or self.path.exists()

    def source_file(self) -> Path:
        """The file the clip's audio comes from (its own, or the recording it was cut from)."""
        return self.origin if self.virtual and self.origin is not None else self.path


@dataclass
class PrepareReport:
    """What ``prepare_<name>`` wrote and what it had to skip."""

    dataset: str
    manifest: Path
    clips: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    per_split: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    total_seconds: float = 0.0
    orig_sample_rates: dict[int, int] = field(default_factory=dict)
    orig_channels: dict[int, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unused: list[tuple[str, str]] = field(default_factory=list)  # files seen and not used, with why
    shared_speakers: int | None = None  # speakers heard in more than one split (None: no speakers)

    def line(self) -> str:
        """The report in one console line (``summary`` has the details)."""
        if not self.clips and any("not prepared again" in note for note in self.notes):
            return f"prepare {self.dataset}: manifest exists, not prepared again ({self.manifest})"
        counts = [f"{self.clips} clips"]
        counts += [f"{len(self.skipped)} unreadable skipped"] if self.skipped else []
        counts += [f"{len(self.missing)} metadata rows without audio"] if self.missing else []
        counts += [f"{len(self.unused)} files not used"] if self.unused else []
        return f"prepare {self.dataset}: {', '.join(counts)} -> {self.manifest}"

    def summary(self) -> str:
        lines = [
            f"{self.dataset}: {self.clips} clips, {self.total_seconds / 60:.1f} min -> {self.manifest}",
            "  per split: " + ", ".join(f"{k}={v}" for k, v in sorted(self.per_split.items())),
            "  per class: " + ", ".join(f"{k}={v}" for k, v in sorted(self.per_class.items())),
            "  original sample rates: "
            + ", ".join(f"{k} Hz x{v}" for k, v in self.orig_sample_rates.items()),
            "  original channels: " + ", ".join(f"{k} ch x{v}" for k, v in self.orig_channels.items()),
        ]
        if self.skipped:
            first = "; ".join(f"{name} ({why})" for name, why in self.skipped[:5])
            lines.append(f"  skipped {len(self.skipped)} unreadable or empty file(s), first: {first}")
        if self.missing:
            lines.append(
                f"  {len(self.missing)} metadata row(s) without audio, first: {', '.join(self.missing[:5])}"
            )
        if self.unused:
            reasons = Counter(why for _, why in self.unused)
            lines.append(f"  not used: {len(self.unused)} file(s) the recipe saw")
            for why, count in reasons.most_common():
                first = ", ".join(name for name, w in self.unused if w == why)[:160]
                lines.append(f"    {count} {why}, first: {first}")
        if self.shared_speakers is not None:
            lines.append(f"  speakers heard in more than one split: {self.shared_speakers}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


ON_MISSING = ("fail", "continue")


def write_manifest(
    dataset: str,
    sources: Iterable[ClipSource],
    output_dir: Path,
    sample_rate: int,
    on_missing: str = "fail",
    notes: Iterable[str] = (),
    loader: Callable[[Path, int], Decoded] = load_audio,
    corpus_dir: Path | None = None,
    unused: Iterable[tuple[Path, str]] = (),
    classes: Sequence[str] | None = None,
) -> PrepareReport:
    """Decode, resample and FLAC-encode every source into ``<output_dir>/manifest.parquet``.

    ``classes`` is the task's class list by label id, where it has classes a corpus may hold no
    recording of (the 12-class Speech Commands task's on and off, in an excerpt without them): they
    stay classes of the manifest, named, with no row (trained from synthetic clips only). Without
    it, the classes are those the rows name.

    Unreadable or empty files are skipped and counted in the report, never fatal. Sources whose
    file does not exist (a metadata row without audio) fail the run with ``on_missing="fail"``,
    or are counted and left out with ``"continue"``. Every audio file under ``corpus_dir`` that no
    source uses is counted in ``report.unused``, with the recipe's reason (``unused``) or a
    generic one. Two sources with one clip id are an error that names both files.
    """
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing has to be one of {ON_MISSING}, but is {on_missing!r}")
    manifest = Path(output_dir) / MANIFEST_NAME
    report = PrepareReport(dataset=dataset, manifest=manifest, notes=list(notes))
    sources = list(sources)
    first_of: dict[str, Path] = {}
    for source in sources:
        if source.id in first_of:
            raise DatasetError(
                f"{dataset}: {first_of[source.id]} and {source.path} map to the same clip id '{source.id}'; "
                f"remove one of the copies"
            )
        first_of[source.id] = source.path
    report.unused = unused_files(corpus_dir, sources, unused)
    report.missing = [str(s.path.name) for s in sources if not s.exists()]
    if report.missing and on_missing == "fail":
        raise DatasetError(
            f"{dataset}: {len(report.missing)} metadata row(s) point at audio that does not exist, first: "
            f"{', '.join(report.missing[:5])}. Pass --on-missing continue to prepare the rest."
        )
    rows: list[dict] = []
    source_ids: dict[Path, str] = {}
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    bar = Progress(f"prepare {dataset}", len(sources), "files")
    for source in sources:
        bar.update()
        if not source.exists():
            continue
        try:
            decoded = loader(source.path, sample_rate)
        except AudioDecodeError as error:
            report.skipped.append((source.path.name, one_line(error)))
            continue
        if decoded.wave.size == 0:
            report.skipped.append((source.path.name, "zero-length audio"))
            continue
        rates[decoded.orig_sample_rate] += 1
        channels[decoded.orig_channels] += 1
        rows.append(
            {
                "id": source.id,
                "dataset": dataset,
                "split": source.split,
                "label": source.label,
                "label_id": source.label_id,
                "label_text": source.label_text,
                "audio": {"bytes": encode_flac(decoded.wave, sample_rate), "path": source.path.name},
                "sample_rate": sample_rate,
                "num_samples": int(decoded.wave.size),
                "speaker": source.speaker,
                "orig_sample_rate": decoded.orig_sample_rate,
                "orig_channels": decoded.orig_channels,
                "source_id": _source_id(source.source_file(), source_ids),
            }
        )
        report.total_seconds += decoded.wave.size / sample_rate
    bar.close()
    if not rows:
        raise DatasetError(
            f"{dataset}: no readable audio among the corpus files ({len(report.skipped)} skipped)"
        )
    table = pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA)
    names = class_names_of((row["label_id"], row["label"]) for row in rows)
    if classes is not None:  # the task's classes, recorded here or not
        names = task_classes(dataset, rows, classes, report.notes)
    write_table_atomic(with_manifest_record(with_hf_features(table, sample_rate, names), names), manifest)
    report.clips = len(rows)
    report.per_split = dict(Counter(row["split"] for row in rows))
    report.per_class = dict(Counter(row["label"] for row in rows))
    report.orig_sample_rates = dict(rates)
    report.orig_channels = dict(channels)
    report.shared_speakers = shared_speakers(rows)
    report.notes.extend(fold_notes(rows) + long_clip_notes(rows, sample_rate))
    return report


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".au", ".aiff", ".mp3", ".avi", ".mp4")


def unused_files(
    corpus_dir: Path | None, sources: list[ClipSource], unused: Iterable[tuple[Path, str]]
) -> list[tuple[str, str]]:
    """Audio files under ``corpus_dir`` that no source reads: the recipe's reasons, then a generic one."""
    if corpus_dir is None:
        return [(str(path), why) for path, why in unused]
    corpus_dir = Path(corpus_dir)
    used = {s.path.resolve() for s in sources if not s.virtual} | {
        s.origin.resolve() for s in sources if s.origin
    }
    reasons = {Path(path).resolve(): why for path, why in unused}
    found = []
    for path in sorted(
        p for p in corpus_dir.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
    ):
        resolved = path.resolve()
        if resolved not in used:
            name = os.fsdecode(path.relative_to(corpus_dir)).encode("utf-8", "backslashreplace").decode()
            found.append((name, reasons.get(resolved, "not in the recipe's layout")))
    return found


def _source_id(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = file_id(path)
    return cache[path]


def read_manifest(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """Read a real manifest (a file, or an object through this node's cache), checking its schema."""
    if not workspace.is_file(path):
        raise DatasetError(f"manifest {path} does not exist; run `python jobs/prepare.py <dataset>` first")
    local = workspace.fetch(path)
    schema = pq.read_schema(local)
    check_schema(schema, REAL_MANIFEST_SCHEMA, str(path))
    check_labels(local, schema)
    return pq.read_table(local, columns=columns)


def check_labels(path: Path, schema: pa.Schema) -> None:
    """The rows' labels against the class list and hash the manifest was written with: a manifest
    edited by hand or damaged since it was prepared is refused (older manifests carry no record)."""
    record = manifest_record(schema)
    if record is None:
        return
    table = pq.read_table(path, columns=["id", "split", "label", "label_id"])
    names = record["classes"]
    for clip, label, label_id in zip(
        *(table.column(c).to_pylist() for c in ("id", "label", "label_id")), strict=True
    ):
        if not 0 <= label_id < len(names) or names[label_id] != label:
            expected = names[label_id] if 0 <= label_id < len(names) else f"none of its {len(names)} classes"
            raise DatasetError(
                f"manifest {path}: clip {clip} has label '{label}' with label_id {label_id}, but the class list it "
                f"was prepared with says {expected!r}: it was edited or damaged since; prepare it again"
            )
    if label_content(table) != record["labels"]:
        raise DatasetError(
            f"manifest {path}: its labels differ from those it was prepared with (edited or damaged since); "
            f"prepare it again"
        )


def manifest_classes(path: Path | str) -> list[str] | None:
    """The class list a manifest was prepared with (``None``: an older manifest without one)."""
    record = manifest_record(pq.read_schema(workspace.fetch(path)))
    return list(record["classes"]) if record else None


def words(identifier: str) -> str:
    """``door_wood_knock`` -> ``door wood knock``; ``CuttingInKitchen`` -> ``cutting in kitchen``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", identifier.replace("_", " ").replace("-", " "))
    return " ".join(spaced.lower().split())
