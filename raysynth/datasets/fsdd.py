"""Free Spoken Digit Dataset (FSDD).

3,000 recordings of the spoken digits 0-9 by 6 English speakers (50 per speaker and digit),
8 kHz mono WAV, trimmed to the spoken word. Released by Zohar Jackson and contributors under
CC BY-SA 4.0 at https://github.com/Jakobovski/free-spoken-digit-dataset.

Layout: ``recordings/{digit}_{speaker}_{index}.wav``. Two recipes read it:

- ``fsdd``: the dataset's own convention, indices 0-4 of each speaker and digit as the test
  split; we take indices 5-9 as the validation split (for model selection) and 10-49 as train.
  Every split holds every speaker, so a test speaker is always heard in training.
- ``fsdd_speakers``: speaker-independent folds, one per speaker (in name order: fold 1 is the
  first speaker). With ``grid.fold: k`` a trial tests on speaker k, validates on the next one and
  trains on the rest: the test speaker's voice is never heard in training.

>>> report = prepare_fsdd("data/fsdd", "work")  # doctest: +SKIP
>>> report.per_split  # doctest: +SKIP
{'test': 300, 'train': 2400, 'valid': 300}
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.download import download_and_extract
from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset

FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.zip"
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<index>\d+)\.wav$")
TEST_INDICES = range(0, 5)
VALID_INDICES = range(5, 10)


def download_fsdd(target_dir: str | Path, url: str = FSDD_URL) -> Path:
    """Download the GitHub archive and keep its ``recordings/`` as ``<target_dir>/fsdd/recordings``.

    Args:
        target_dir: the data root.
        url: the archive to fetch (tests point this at a local server).

    Returns:
        The corpus directory ``<target_dir>/fsdd``.
    """
    return download_and_extract(url, target_dir, "fsdd", keep="**/recordings")


def find_fsdd_sources(corpus_dir: Path, speaker_folds: bool = False) -> tuple[list[ClipSource], list]:
    """Every ``recordings/*.wav`` with its digit, speaker and split (by index, or the speaker's fold),
    and the files it does not use, with why."""
    recordings = Path(corpus_dir) / "recordings"
    if not recordings.is_dir():
        raise DatasetError(
            f"expected the FSDD layout {recordings}/{{digit}}_{{speaker}}_{{index}}.wav, but "
            f"{recordings} does not exist. Get the corpus with `python jobs/prepare.py fsdd "
            f"--download --root <data_root>` or from {FSDD_URL}"
        )
    sources, unused = [], []
    for path in sorted(recordings.glob("*.wav")):
        match = _NAME.match(path.name)
        if match is None:
            unused.append((path, "name is not {digit}_{speaker}_{index}.wav"))
            continue
        digit, index = int(match["digit"]), int(match["index"])
        split = "test" if index in TEST_INDICES else "valid" if index in VALID_INDICES else "train"
        sources.append(
            ClipSource(
                id=f"fsdd/{path.stem}",
                path=path,
                split=split,
                label=str(digit),
                label_id=digit,
                label_text=DIGIT_WORDS[digit],
                speaker=match["speaker"],
            )
        )
    if not sources:
        raise DatasetError(f"{recordings} holds no files named {{digit}}_{{speaker}}_{{index}}.wav")
    if speaker_folds:
        fold = {speaker: str(i + 1) for i, speaker in enumerate(sorted({s.speaker for s in sources}))}
        for source in sources:
            source.split = fold[source.speaker]
    return sources, unused


def prepare_fsdd(corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` from an FSDD corpus directory."""
    sources, unused = find_fsdd_sources(Path(corpus_dir))
    return write_manifest(
        "fsdd", sources, Path(output_dir), sample_rate, corpus_dir=Path(corpus_dir), unused=unused
    )


def prepare_fsdd_speakers(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` with one fold per speaker (``split`` = "1" ... "6")."""
    sources, unused = find_fsdd_sources(Path(corpus_dir), speaker_folds=True)
    folds = sorted({s.split for s in sources}, key=int)
    speakers = {s.split: s.speaker for s in sources}
    notes = ["speaker folds: " + ", ".join(f"{fold}={speakers[fold]}" for fold in folds)]
    return write_manifest(
        "fsdd_speakers",
        sources,
        Path(output_dir),
        sample_rate,
        notes=notes,
        corpus_dir=Path(corpus_dir),
        unused=unused,
    )


LAYOUT = "fsdd/recordings/{digit}_{speaker}_{index}.wav"
FSDD = register_dataset(
    DatasetRecipe(
        name="fsdd", download=download_fsdd, prepare=prepare_fsdd, prompt_template="a person saying the number {label}",
        layout=LAYOUT, url=FSDD_URL, speech_template="{label}",
    )
)  # fmt: skip
FSDD_SPEAKERS = register_dataset(
    DatasetRecipe(
        name="fsdd_speakers", download=download_fsdd, prepare=prepare_fsdd_speakers,
        prompt_template="a person saying the number {label}", layout=LAYOUT, url=FSDD_URL, folds=6, corpus="fsdd",
        speech_template="{label}",
    )
)  # fmt: skip
