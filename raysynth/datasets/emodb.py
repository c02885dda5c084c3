"""EmoDB, emotional speech (Burkhardt et al., 2005; free for research, http://emodb.bilderbar.info):
``wav/{speaker:2}{text:3}{emotion:1}{version:1}.wav``, 10 speakers, 7 emotions (German letters: W
anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral); 5 speaker-independent folds
of one female and one male speaker each (split = "1" ... "5").
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.download import download_and_extract
from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import EMOTION_TEMPLATE, DatasetError, DatasetRecipe, register_dataset

EMODB_URL = "http://emodb.bilderbar.info/download/download.zip"
EMODB_LAYOUT = "wav/{speaker:2}{text:3}{emotion:1}{version:1}.wav"
EMODB_MAP = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "T": "sadness",
    "N": "neutral",
}
EMODB_LABELS = ["anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral"]
# One male and one female speaker per fold (male: 03 10 11 12 15; female: 08 09 13 14 16).
EMODB_FOLDS = {"03": 1, "08": 1, "10": 2, "09": 2, "11": 3, "13": 3, "12": 4, "14": 4, "15": 5, "16": 5}
_EMODB_NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[a-z]\d\d)(?P<emo>[WLEAFTN])(?P<version>[a-z])\.wav$")


def prepare_emodb(corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (7 emotions, 5 speaker-independent folds)."""
    corpus_dir = Path(corpus_dir)
    wav_dir = next((p for p in [corpus_dir / "wav", *corpus_dir.glob("*/wav")] if p.is_dir()), None)
    if wav_dir is None:
        raise DatasetError(
            f"{corpus_dir} does not look like EmoDB: expected {EMODB_LAYOUT}. Source: {EMODB_URL}"
        )
    sources, unknown, unused = [], set(), []
    for path in sorted(wav_dir.glob("*.wav")):
        match = _EMODB_NAME.match(path.name)
        if match is None:
            unused.append((path, "name is not {speaker:2}{text:3}{emotion:1}{version:1}.wav"))
            continue
        if match["speaker"] not in EMODB_FOLDS:
            unknown.add(match["speaker"])
            unused.append((path, "speaker is not one of EmoDB's 10"))
            continue
        label = EMODB_MAP[match["emo"]]
        sources.append(
            ClipSource(
                f"emodb/{path.stem}",
                path,
                str(EMODB_FOLDS[match["speaker"]]),
                label,
                EMODB_LABELS.index(label),
                label,
                match["speaker"],
            )
        )
    notes = [f"speaker(s) {', '.join(sorted(unknown))} are not EmoDB's 10; left out"] if unknown else []
    return write_manifest(
        "emodb", sources, Path(output_dir), sample_rate, notes=notes, corpus_dir=corpus_dir, unused=unused
    )


def download_emodb(target_dir: str | Path) -> Path:
    return download_and_extract(EMODB_URL, target_dir, "emodb")


EMODB = register_dataset(
    DatasetRecipe("emodb", download_emodb, prepare_emodb, EMOTION_TEMPLATE, EMODB_LAYOUT, EMODB_URL, folds=5)
)
