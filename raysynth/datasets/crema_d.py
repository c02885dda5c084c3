"""CREMA-D, emotional speech (Cao et al., 2014; ODbL,
https://github.com/CheyneyComputerScience/CREMA-D):
``AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav``, 91 actors, 6 emotions; a seeded speaker-
independent 70/10/20 split over actors.
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
from raysynth.datasets.sampling import group_split

CREMA_URL = "https://github.com/CheyneyComputerScience/CREMA-D"
CREMA_LAYOUT = "AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav"
CREMA_MAP = {
    "ANG": "angry",
    "DIS": "disgusted",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
CREMA_LABELS = list(CREMA_MAP.values())
_CREMA_NAME = re.compile(
    r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emo>[A-Z]{3})_(?P<level>[A-Z]{2})\.wav$"
)


def prepare_crema_d(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (6 emotions, speaker-independent split)."""
    corpus_dir = Path(corpus_dir)
    audio = next((p for p in [corpus_dir / "AudioWAV", *corpus_dir.glob("*/AudioWAV")] if p.is_dir()), None)
    if audio is None:
        raise DatasetError(
            f"{corpus_dir} does not look like CREMA-D: expected {CREMA_LAYOUT}. Source: {CREMA_URL}"
        )
    parsed = [(p, _CREMA_NAME.match(p.name)) for p in sorted(audio.glob("*.wav"))]
    parsed = [(p, m) for p, m in parsed if m and m["emo"] in CREMA_MAP]
    splits = group_split([m["actor"] for _, m in parsed], seed)
    sources = [
        ClipSource(
            f"crema_d/{p.stem}",
            p,
            splits[m["actor"]],
            CREMA_MAP[m["emo"]],
            CREMA_LABELS.index(CREMA_MAP[m["emo"]]),
            CREMA_MAP[m["emo"]],
            m["actor"],
        )
        for p, m in parsed
    ]
    return write_manifest("crema_d", sources, Path(output_dir), sample_rate, corpus_dir=corpus_dir)


CREMA_D = register_dataset(
    DatasetRecipe(
        "crema_d",
        manual_download("CREMA-D", CREMA_URL),
        prepare_crema_d,
        EMOTION_TEMPLATE,
        CREMA_LAYOUT,
        CREMA_URL,
    )
)
