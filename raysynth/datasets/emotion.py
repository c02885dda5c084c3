"""Emotional speech corpora: IEMOCAP, CREMA-D, RAVDESS, TESS and EmoDB.

Each is split so that no speaker is in two splits (TESS, with two speakers, is the exception:
seeded stratified). Labels come from the file names, or, for IEMOCAP, from its evaluation files.

- **IEMOCAP** (Busso et al., 2008; licence by request, https://sail.usc.edu/iemocap/):
  ``IEMOCAP_full_release/Session{1..5}/sentences/wav/<dialog>/<utt>.wav`` and
  ``Session{n}/dialog/EmoEvaluation/<dialog>.txt`` with lines
  ``[start - end]<TAB><utt><TAB><emo><TAB>[v, a, d]``. The 4-class standard: neutral, happy
  (happy + excited), angry, sad; split = session ("1" ... "5", leave-one-session-out).
- **CREMA-D** (Cao et al., 2014; ODbL, https://github.com/CheyneyComputerScience/CREMA-D):
  ``AudioWAV/{actor}_{sentence}_{emotion}_{level}.wav``, 91 actors, 6 emotions; a seeded
  speaker-independent 70/10/20 split over actors.
- **RAVDESS** (Livingstone and Russo, 2018; CC BY-NC-SA 4.0, https://zenodo.org/record/1188976):
  ``Actor_01..24/{modality}-{channel}-{emotion}-{intensity}-{statement}-{repetition}-{actor}.wav``,
  8 emotions; actors 1-18 train, 19-20 valid, 21-24 test (each split gender-balanced).
- **TESS** (Dupuis and Pichora-Fuller, 2010; CC BY-NC-ND 4.0, https://tspace.library.utoronto.ca):
  ``<SPEAKER>_<emotion>/*.wav`` for speakers OAF and YAF, 7 emotions (folder names vary in case and
  in "pleasant_surprise" / "pleasant_surprised"); seeded stratified 70/10/20.
- **EmoDB** (Burkhardt et al., 2005; free for research, http://emodb.bilderbar.info):
  ``wav/{speaker:2}{text:3}{emotion:1}{version:1}.wav``, 10 speakers, 7 emotions (German letters:
  W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral); 5 speaker-independent
  folds of one female and one male speaker each (split = "1" ... "5").
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.base import (
    ClipSource,
    DatasetError,
    DatasetRecipe,
    PrepareReport,
    group_split,
    register_dataset,
    stratified_split,
    write_manifest,
)

EMOTION_TEMPLATE = "a person speaking in a {label} voice"


def _no_download(name: str, url: str):
    def download(target_dir: str | Path) -> Path:
        raise DatasetError(
            f"{name} cannot be downloaded automatically (its licence asks for a manual download or "
            f"registration): get it from {url} and unpack it under {Path(target_dir) / name.lower()}"
        )

    return download


# --- IEMOCAP -------------------------------------------------------------------------------------

IEMOCAP_URL = "https://sail.usc.edu/iemocap/"
IEMOCAP_LAYOUT = "IEMOCAP_full_release/Session1..5/{sentences/wav/<dialog>/*.wav, dialog/EmoEvaluation/*.txt}"
IEMOCAP_MAP = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
IEMOCAP_LABELS = ["neutral", "happy", "angry", "sad"]
_IEMOCAP_LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(?P<utt>Ses\w+)\t(?P<emo>\w+)\t")


def prepare_iemocap(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, on_missing: str = "fail"
) -> PrepareReport:
    """Write ``<output_dir>/iemocap/manifest.parquet`` (4 classes, split = session)."""
    corpus_dir = Path(corpus_dir)
    root = next(
        (
            p
            for p in [corpus_dir, *corpus_dir.glob("*")]
            if (p / "Session1").is_dir() or list(p.glob("Session[1-5]"))
        ),
        None,
    )
    if root is None:
        raise DatasetError(
            f"{corpus_dir} does not look like IEMOCAP: expected {IEMOCAP_LAYOUT}. Source: {IEMOCAP_URL}"
        )
    sources, notes = [], []
    for session in range(1, 6):
        folder = root / f"Session{session}"
        if not folder.is_dir():
            notes.append(f"partial corpus: Session{session} absent")
            continue
        for evaluation in sorted((folder / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in evaluation.read_text(errors="replace").splitlines():
                match = _IEMOCAP_LINE.match(line)
                if not match or match["emo"] not in IEMOCAP_MAP:
                    continue
                utt, label = match["utt"], IEMOCAP_MAP[match["emo"]]
                dialog = utt.rsplit("_", 1)[0]
                sources.append(
                    ClipSource(
                        f"iemocap/{utt}",
                        folder / "sentences" / "wav" / dialog / f"{utt}.wav",
                        str(session),
                        label,
                        IEMOCAP_LABELS.index(label),
                        label,
                        f"Ses{session:02d}{utt.rsplit('_', 1)[1][0]}",
                    )
                )
    return write_manifest("iemocap", sources, Path(output_dir), sample_rate, on_missing, notes)


# --- CREMA-D -------------------------------------------------------------------------------------

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
    """Write ``<output_dir>/crema_d/manifest.parquet`` (6 emotions, speaker-independent split)."""
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
    return write_manifest("crema_d", sources, Path(output_dir), sample_rate)


# --- RAVDESS -------------------------------------------------------------------------------------

RAVDESS_URL = "https://zenodo.org/record/1188976"
RAVDESS_LAYOUT = "Actor_01..24/03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor}.wav"
RAVDESS_LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(?P<emo>0[1-8])-(\d\d)-(\d\d)-(\d\d)-(?P<actor>\d\d)\.wav$")


def ravdess_split(actor: int) -> str:
    return "test" if actor >= 21 else "valid" if actor >= 19 else "train"


def prepare_ravdess(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """Write ``<output_dir>/ravdess/manifest.parquet`` (8 emotions, actor-independent split)."""
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
    return write_manifest("ravdess", sources, Path(output_dir), sample_rate)


# --- TESS ----------------------------------------------------------------------------------------

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
    """Write ``<output_dir>/tess/manifest.parquet`` (7 emotions, seeded stratified split)."""
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


# --- EmoDB ---------------------------------------------------------------------------------------

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
    """Write ``<output_dir>/emodb/manifest.parquet`` (7 emotions, 5 speaker-independent folds)."""
    corpus_dir = Path(corpus_dir)
    wav_dir = next((p for p in [corpus_dir / "wav", *corpus_dir.glob("*/wav")] if p.is_dir()), None)
    if wav_dir is None:
        raise DatasetError(
            f"{corpus_dir} does not look like EmoDB: expected {EMODB_LAYOUT}. Source: {EMODB_URL}"
        )
    sources, unknown = [], set()
    for path in sorted(wav_dir.glob("*.wav")):
        match = _EMODB_NAME.match(path.name)
        if match is None:
            continue
        if match["speaker"] not in EMODB_FOLDS:
            unknown.add(match["speaker"])
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
    return write_manifest("emodb", sources, Path(output_dir), sample_rate, notes=notes)


def download_emodb(target_dir: str | Path) -> Path:
    from raysynth.datasets.base import download_and_extract

    return download_and_extract(EMODB_URL, target_dir, "emodb")


IEMOCAP = register_dataset(
    DatasetRecipe(
        "iemocap",
        _no_download("IEMOCAP", IEMOCAP_URL),
        prepare_iemocap,
        EMOTION_TEMPLATE,
        IEMOCAP_LAYOUT,
        IEMOCAP_URL,
        folds=5,
    )
)
CREMA_D = register_dataset(
    DatasetRecipe(
        "crema_d",
        _no_download("CREMA-D", CREMA_URL),
        prepare_crema_d,
        EMOTION_TEMPLATE,
        CREMA_LAYOUT,
        CREMA_URL,
    )
)
RAVDESS = register_dataset(
    DatasetRecipe(
        "ravdess",
        _no_download("RAVDESS", RAVDESS_URL),
        prepare_ravdess,
        EMOTION_TEMPLATE,
        RAVDESS_LAYOUT,
        RAVDESS_URL,
    )
)
TESS = register_dataset(
    DatasetRecipe(
        "tess", _no_download("TESS", TESS_URL), prepare_tess, EMOTION_TEMPLATE, TESS_LAYOUT, TESS_URL
    )
)
EMODB = register_dataset(
    DatasetRecipe("emodb", download_emodb, prepare_emodb, EMOTION_TEMPLATE, EMODB_LAYOUT, EMODB_URL, folds=5)
)
