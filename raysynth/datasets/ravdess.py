"""RAVDESS, emotional speech (Livingstone and Russo, 2018; CC BY-NC-SA 4.0,
https://zenodo.org/record/1188976):
``Actor_01..24/{modality}-{channel}-{emotion}-{intensity}-{statement}-{repetition}-{actor}.wav``, 8
emotions; actors 1-18 train, 19-20 valid, 21-24 test (each split gender-balanced).
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

RAVDESS_URL = "https://zenodo.org/record/1188976"
RAVDESS_LAYOUT = "Actor_01..24/03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor}.wav"
RAVDESS_LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(?P<emo>0[1-8])-(\d\d)-(\d\d)-(\d\d)-(?P<actor>\d\d)\.wav$")


def ravdess_split(actor: int) -> str:
    return "test" if actor >= 21 else "valid" if actor >= 19 else "train"


def prepare_ravdess(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (8 emotions, actor-independent split)."""
    corpus_dir = Path(corpus_dir)
    files = sorted(corpus_dir.glob("Actor_*/*.wav")) or sorted(corpus_dir.glob("*/Actor_*/*.wav"))
    if not files:
        raise DatasetError(
            f"{corpus_dir} does not look like RAVDESS: expected {RAVDESS_LAYOUT}. Source: {RAVDESS_URL}"
        )
    sources = []
    for path in files:
        match = _RAVDESS_NAME.match(path.name)
        if match is None:
            continue
        label = RAVDESS_LABELS[int(match["emo"]) - 1]
        actor = int(match["actor"])
        sources.append(
            ClipSource(
                f"ravdess/{path.stem}",
                path,
                ravdess_split(actor),
                label,
                RAVDESS_LABELS.index(label),
                label,
                f"{actor:02d}",
            )
        )
    return write_manifest("ravdess", sources, Path(output_dir), sample_rate, corpus_dir=corpus_dir)


RAVDESS = register_dataset(
    DatasetRecipe(
        "ravdess",
        manual_download("RAVDESS", RAVDESS_URL),
        prepare_ravdess,
        EMOTION_TEMPLATE,
        RAVDESS_LAYOUT,
        RAVDESS_URL,
    )
)
