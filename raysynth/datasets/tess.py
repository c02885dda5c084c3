"""TESS, emotional speech (Dupuis and Pichora-Fuller, 2010; CC BY-NC-ND 4.0,
https://tspace.library.utoronto.ca): ``<SPEAKER>_<emotion>/*.wav`` for speakers OAF and YAF, 7
emotions (folder names vary in case and in "pleasant_surprise" / "pleasant_surprised"); seeded
stratified 70/10/20.
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import (
    EMOTION_TEMPLATE,
    DatasetError,
    DatasetRecipe,
    manual_download,
    register_dataset,
)
from raysynth.datasets.sampling import stratified_split

TESS_URL = "https://tspace.library.utoronto.ca/handle/1807/24487"
TESS_LAYOUT = "<SPEAKER>_<emotion>/*.wav (OAF_angry/, YAF_pleasant_surprised/, ...)"
TESS_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "pleasant surprise", "sad"]
_TESS_DIR = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<emo>[A-Za-z_]+)$", re.IGNORECASE)


def _tess_label(raw: str) -> str | None:
    raw = raw.lower().replace("_", " ")
    if raw.startswith("pleasant"):
        return "pleasant surprise"
    return raw if raw in TESS_LABELS else None


def prepare_tess(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (7 emotions, seeded stratified split)."""
    corpus_dir = Path(corpus_dir)
    found = []
    for folder in sorted(p for p in corpus_dir.glob("**/*") if p.is_dir()):
        match = _TESS_DIR.match(folder.name)
        label = _tess_label(match["emo"]) if match else None
        if label:
            found.extend((path, label, match["speaker"].upper()) for path in sorted(folder.glob("*.wav")))
    if not found:
        raise DatasetError(
            f"{corpus_dir} does not look like TESS: expected {TESS_LAYOUT}. Source: {TESS_URL}"
        )
    keys = [f"{speaker}/{path.stem}" for path, _, speaker in found]
    splits = stratified_split(keys, [label for _, label, _ in found], seed)
    sources = [
        ClipSource(f"tess/{key}", path, splits[key], label, TESS_LABELS.index(label), label, speaker)
        for key, (path, label, speaker) in zip(keys, found, strict=True)
    ]
    return write_manifest("tess", sources, Path(output_dir), sample_rate)


TESS = register_dataset(
    DatasetRecipe(
        "tess", manual_download("TESS", TESS_URL), prepare_tess, EMOTION_TEMPLATE, TESS_LAYOUT, TESS_URL
    )
)
