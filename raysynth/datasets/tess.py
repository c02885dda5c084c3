"""TESS, emotional speech (Dupuis and Pichora-Fuller, 2010; CC BY-NC-ND 4.0,
https://tspace.library.utoronto.ca): ``<SPEAKER>_<emotion>/*.wav`` for speakers OAF and YAF, 7
emotions (folder names vary in case and in "pleasant_surprise" / "pleasant_surprised").

- ``tess``: seeded stratified 70/10/20. Both speakers are in every split, so its scores are
  speaker-dependent (the summary says so); a model near 99% here gets about half that on an
  unheard speaker.
- ``tess_speakers``: leave one speaker out. Fold 1 is OAF and fold 2 YAF; each fold keeps a seeded
  10% of its clips apart as ``"<fold>-valid"``, so a trial tests on one speaker whole and trains
  and validates on the other (two speakers cannot spare a third for validation).
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.manifest import AUDIO_SUFFIXES, ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import (
    EMOTION_TEMPLATE,
    DatasetError,
    DatasetRecipe,
    manual_download,
    register_dataset,
)
from raysynth.datasets.sampling import VALID_SUFFIX, stratified_split

TESS_URL = "https://tspace.library.utoronto.ca/handle/1807/24487"
TESS_LAYOUT = "<SPEAKER>_<emotion>/*.wav (OAF_angry/, YAF_pleasant_surprised/, ...)"
TESS_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "pleasant surprise", "sad"]
TESS_SPEAKERS = ["OAF", "YAF"]
_TESS_DIR = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<emo>[A-Za-z_]+)$", re.IGNORECASE)


def _tess_label(raw: str) -> str | None:
    raw = raw.lower().replace("_", " ")
    if raw.startswith("pleasant"):
        return "pleasant surprise"
    return raw if raw in TESS_LABELS else None


def find_tess(corpus_dir: Path) -> tuple[list[tuple[Path, str, str]], list[tuple[Path, str]]]:
    """``(path, label, speaker)`` of every clip in a ``<SPEAKER>_<emotion>/`` folder, and the audio
    files elsewhere (a flat copy, a renamed folder), with why they are not used."""
    found, unused = [], []
    for folder in sorted(p for p in corpus_dir.glob("**/*") if p.is_dir()):
        match = _TESS_DIR.match(folder.name)
        label = _tess_label(match["emo"]) if match else None
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if label:
            found.extend(
                (path, label, match["speaker"].upper()) for path in files if path.suffix.lower() == ".wav"
            )
            unused.extend((path, "not a .wav file") for path in files if path.suffix.lower() != ".wav")
        else:
            why = "folder is not <SPEAKER>_<emotion> (speaker and emotion unknown)"
            unused.extend((path, why) for path in files)
    unused.extend(
        (p, "not in a <SPEAKER>_<emotion> folder")
        for p in corpus_dir.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    if not found:
        raise DatasetError(
            f"{corpus_dir} does not look like TESS: expected {TESS_LAYOUT}. Source: {TESS_URL}"
        )
    return found, unused


def prepare_tess(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (7 emotions, seeded stratified split)."""
    corpus_dir = Path(corpus_dir)
    found, unused = find_tess(corpus_dir)
    keys = [f"{speaker}/{path.stem}" for path, _, speaker in found]
    splits = stratified_split(keys, [label for _, label, _ in found], seed)
    sources = [
        ClipSource(f"tess/{key}", path, splits[key], label, TESS_LABELS.index(label), label, speaker)
        for key, (path, label, speaker) in zip(keys, found, strict=True)
    ]
    notes = ["both speakers are in every split: scores are speaker-dependent (tess_speakers is not)"]
    return write_manifest(
        "tess", sources, Path(output_dir), sample_rate, notes=notes, corpus_dir=corpus_dir, unused=unused
    )


def prepare_tess_speakers(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` with one fold per speaker (``"1"`` OAF, ``"2"`` YAF),
    each with a seeded stratified 10% ``"<fold>-valid"`` part."""
    corpus_dir = Path(corpus_dir)
    found, unused = find_tess(corpus_dir)
    sources = []
    for fold, speaker in enumerate(TESS_SPEAKERS, start=1):
        mine = [(path, label) for path, label, s in found if s == speaker]
        if not mine:
            raise DatasetError(
                f"{corpus_dir}: no clips of speaker {speaker}; tess_speakers needs both {TESS_SPEAKERS}"
            )
        keys = [f"{speaker}/{path.stem}" for path, _ in mine]
        parts = stratified_split(keys, [label for _, label in mine], seed, valid=0.1, test=0.0)
        for key, (path, label) in zip(keys, mine, strict=True):
            split = f"{fold}{VALID_SUFFIX}" if parts[key] == "valid" else str(fold)
            sources.append(
                ClipSource(f"tess/{key}", path, split, label, TESS_LABELS.index(label), label, speaker)
            )
    notes = ["speaker folds: 1=OAF, 2=YAF; a trial tests on one and trains on the other"]
    return write_manifest(
        "tess_speakers",
        sources,
        Path(output_dir),
        sample_rate,
        notes=notes,
        corpus_dir=corpus_dir,
        unused=unused,
    )


TESS = register_dataset(
    DatasetRecipe(
        "tess", manual_download("TESS", TESS_URL), prepare_tess, EMOTION_TEMPLATE, TESS_LAYOUT, TESS_URL
    )
)
TESS_SPEAKER_FOLDS = register_dataset(
    DatasetRecipe(
        "tess_speakers",
        manual_download("TESS", TESS_URL),
        prepare_tess_speakers,
        EMOTION_TEMPLATE,
        TESS_LAYOUT,
        TESS_URL,
        folds=2,
        corpus="tess",
    )
)
