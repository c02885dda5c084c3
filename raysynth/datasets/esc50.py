"""ESC-50: 2,000 five-second environmental recordings in 50 classes (40 each), from Freesound.

Karol J. Piczak, "ESC: Dataset for Environmental Sound Classification", ACM MM 2015;
CC BY-NC 3.0, https://github.com/karolpiczak/ESC-50. 44.1 kHz mono WAV.

Layout: ``ESC-50-master/audio/{fold}-{src_file}-{take}-{target}.wav`` and
``ESC-50-master/meta/esc50.csv`` with columns ``filename, fold, target, category, esc10,
src_file, take``. Splits are the 5 official folds (``split`` = "1" ... "5"); clips cut from one
source recording share a fold. ESC-10 is the ``esc10 == True`` subset (10 classes, 400 clips); it
reads the ESC-50 corpus folder (``<data_root>/esc50``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from raysynth.datasets.download import download_and_extract, locate
from raysynth.datasets.manifest import ClipSource, PrepareReport, words, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset

ESC50_URL = "https://github.com/karoldvl/ESC-50/archive/master.zip"
LAYOUT = "ESC-50-master/{audio/*.wav, meta/esc50.csv}"
COLUMNS = {"filename", "fold", "target", "category", "esc10", "src_file", "take"}


def download_esc50(target_dir: str | Path, url: str = ESC50_URL) -> Path:
    """Download and unpack the GitHub archive into ``<target_dir>/esc50``."""
    return download_and_extract(url, target_dir, "esc50")


def read_esc50_meta(corpus_dir: Path) -> tuple[Path, list[dict]]:
    root = locate(corpus_dir, "meta/esc50.csv", "ESC-50", LAYOUT, ESC50_URL)
    with open(root / "meta" / "esc50.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{root / 'meta/esc50.csv'} lacks the column(s) {sorted(missing)}")
        return root, list(reader)


def _prepare(name: str, corpus_dir: Path, output_dir: Path, sample_rate: int, esc10: bool, on_missing: str):
    root, rows = read_esc50_meta(Path(corpus_dir))
    unused = []
    if esc10:
        unused = [
            (root / "audio" / r["filename"], "an ESC-50 class outside ESC-10")
            for r in rows
            if r["esc10"].strip().lower() != "true"
        ]
        rows = [row for row in rows if row["esc10"].strip().lower() == "true"]
    # ESC-10 renumbers its 10 classes 0..9 in the order of their ESC-50 targets.
    targets = sorted({int(row["target"]) for row in rows})
    label_id = {target: i for i, target in enumerate(targets)} if esc10 else {t: t for t in targets}
    sources = [
        ClipSource(
            id=f"{name}/{Path(row['filename']).stem}",
            path=root / "audio" / row["filename"],
            split=str(int(row["fold"])),
            label=row["category"],
            label_id=label_id[int(row["target"])],
            label_text=words(row["category"]),
            speaker=row["src_file"],
        )
        for row in rows
    ]
    folds = {s.split for s in sources}
    notes = [f"missing fold(s): {', '.join(sorted(set('12345') - folds))}"] if set("12345") - folds else []
    return write_manifest(
        name, sources, Path(output_dir), sample_rate, on_missing, notes, corpus_dir=root, unused=unused
    )


def prepare_esc50(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, on_missing: str = "fail"
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (50 classes, split = official fold)."""
    return _prepare("esc50", Path(corpus_dir), Path(output_dir), sample_rate, False, on_missing)


def prepare_esc10(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, on_missing: str = "fail"
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (the ESC-10 subset, split = official fold)."""
    return _prepare("esc10", Path(corpus_dir), Path(output_dir), sample_rate, True, on_missing)


ESC50 = register_dataset(
    DatasetRecipe("esc50", download_esc50, prepare_esc50, "{label} sound", LAYOUT, ESC50_URL, folds=5)
)
ESC10 = register_dataset(
    DatasetRecipe(
        "esc10", download_esc50, prepare_esc10, "{label} sound", LAYOUT, ESC50_URL, folds=5, corpus="esc50"
    )
)
