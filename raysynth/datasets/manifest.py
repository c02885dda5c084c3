"""Real manifests: the clips a recipe found, written once as Parquet (FLAC audio), and read back.

A manifest is one Parquet file with the columns of :data:`raysynth.schemas.REAL_MANIFEST_SCHEMA`,
written into the folder :mod:`raysynth.datasets.prepare` keys by its recipe; unreadable files are
skipped and counted in the :class:`PrepareReport`, never fatal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from raysynth.audio import AudioDecodeError, Decoded, encode_flac, load_audio
from raysynth.datasets.registry import DatasetError
from raysynth.schemas import REAL_MANIFEST_SCHEMA, check_schema, file_id, write_table_atomic

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
) -> PrepareReport:
    """Decode, resample and FLAC-encode every source into ``<output_dir>/manifest.parquet``.

    Unreadable or empty files are skipped and counted in the report, never fatal. Sources whose
    file does not exist (a metadata row without audio) fail the run with ``on_missing="fail"``,
    or are counted and left out with ``"continue"``.
    """
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing has to be one of {ON_MISSING}, but is {on_missing!r}")
    manifest = Path(output_dir) / MANIFEST_NAME
    report = PrepareReport(dataset=dataset, manifest=manifest, notes=list(notes))
    sources = list(sources)
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
    for source in sources:
        if not source.exists():
            continue
        try:
            decoded = loader(source.path, sample_rate)
        except AudioDecodeError as error:
            report.skipped.append((source.path.name, str(error).splitlines()[0][-80:]))
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
    if not rows:
        raise DatasetError(
            f"{dataset}: no readable audio among the corpus files ({len(report.skipped)} skipped)"
        )
    write_table_atomic(pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA), manifest)
    report.clips = len(rows)
    report.per_split = dict(Counter(row["split"] for row in rows))
    report.per_class = dict(Counter(row["label"] for row in rows))
    report.orig_sample_rates = dict(rates)
    report.orig_channels = dict(channels)
    return report


def _source_id(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = file_id(path)
    return cache[path]


def read_manifest(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a real manifest, checking it against the schema."""
    if not Path(path).is_file():
        raise DatasetError(f"manifest {path} does not exist; run `python jobs/prepare.py <dataset>` first")
    check_schema(pq.read_schema(path), REAL_MANIFEST_SCHEMA, str(path))
    return pq.read_table(path, columns=columns)


def words(identifier: str) -> str:
    """``door_wood_knock`` -> ``door wood knock``; ``CuttingInKitchen`` -> ``cutting in kitchen``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", identifier.replace("_", " ").replace("-", " "))
    return " ".join(spaced.lower().split())
