"""UrbanSound8K: 8,732 labelled urban sound excerpts (<= 4 s) in 10 classes, from Freesound.

J. Salamon, C. Jacoby and J. P. Bello, "A Dataset and Taxonomy for Urban Sound Research",
ACM MM 2014; CC BY-NC 3.0, https://urbansounddataset.weebly.com/urbansound8k.html. WAV at
various rates (mostly 44.1/48 kHz), mono and stereo, 16/24-bit.

Layout: ``UrbanSound8K/audio/fold{1..10}/{fsID}-{classID}-{occurrenceID}-{sliceID}.wav`` and
``UrbanSound8K/metadata/UrbanSound8K.csv`` with columns ``slice_file_name, fsID, start, end,
salience, fold, classID, class``. Splits are the 10 official folds; never reshuffle them (the
slices of one recording share a fold).
"""

from __future__ import annotations

import csv
from pathlib import Path

from raysynth.datasets.download import download_and_extract, locate
from raysynth.datasets.manifest import ClipSource, PrepareReport, words, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset

US8K_URL = "https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz"
LAYOUT = "UrbanSound8K/{audio/fold1..10/*.wav, metadata/UrbanSound8K.csv}"
COLUMNS = {"slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"}


def download_us8k(target_dir: str | Path, url: str = US8K_URL) -> Path:
    """Download (about 6 GB) and unpack into ``<target_dir>/us8k``."""
    return download_and_extract(url, target_dir, "us8k")


def prepare_us8k(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, on_missing: str = "fail"
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (split = official fold "1" ... "10").

    A partial copy (some ``audio/fold*`` folders absent) prepares the folds that are there and
    notes the missing ones; their metadata rows are not counted as missing audio.
    """
    root = locate(Path(corpus_dir), "metadata/UrbanSound8K.csv", "UrbanSound8K", LAYOUT, US8K_URL)
    with open(root / "metadata" / "UrbanSound8K.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        missing_columns = COLUMNS - set(reader.fieldnames or [])
        if missing_columns:
            raise DatasetError(
                f"{root}/metadata/UrbanSound8K.csv lacks the column(s) {sorted(missing_columns)}"
            )
        rows = list(reader)
    present = {int(p.name[4:]) for p in (root / "audio").glob("fold*") if p.name[4:].isdigit()}
    if not present:
        raise DatasetError(f"{root / 'audio'} holds no fold1..fold10 folders (expected {LAYOUT})")
    absent = sorted(set(range(1, 11)) - present)
    sources = [
        ClipSource(
            id=f"us8k/{Path(row['slice_file_name']).stem}",
            path=root / "audio" / f"fold{int(row['fold'])}" / row["slice_file_name"],
            split=str(int(row["fold"])),
            label=row["class"],
            label_id=int(row["classID"]),
            label_text=words(row["class"]),
            speaker=row["fsID"],
        )
        for row in rows
        if int(row["fold"]) in present
    ]
    notes = (
        [f"partial corpus: fold(s) {', '.join(map(str, absent))} absent, prepared the rest"] if absent else []
    )
    return write_manifest("us8k", sources, Path(output_dir), sample_rate, on_missing, notes, corpus_dir=root)


US8K = register_dataset(
    DatasetRecipe("us8k", download_us8k, prepare_us8k, "{label} sound", LAYOUT, US8K_URL, folds=10)
)
