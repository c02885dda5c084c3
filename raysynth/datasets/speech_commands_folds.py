"""Speech Commands keyword spotting in speaker-disjoint folds, from word folders with no lists.

``speech_commands_mini`` reads a copy of Speech Commands laid out as users often have an excerpt of
it (TensorFlow's ``mini_speech_commands``, or ``../shared/data/speech_commands_mini``):
``<word>/<speaker hash>_nohash_<n>.wav``, one folder per word, no list files. Its classes are the
12-class task's keywords present in the copy (yes, no, up, down, left, right, on, off, stop, go) and
``_unknown_`` for every other word; there is no ``_silence_`` class (a copy without
``_background_noise_`` has nothing to make it from).

Splits: five speaker-disjoint folds (``split`` = "1" ... "5"), by a hash of the speaker id, so a
speaker's clips all sit in one fold. With ``grid.fold: k`` a trial tests on fold k, validates on the
next fold and trains on the rest; a synthetic-only experiment over the five folds tests on every
real clip once. The dataset's own hash rule (``which_set``) is not used here: an excerpt of its
training and validation speakers (this one's) would have no test split.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset
from raysynth.datasets.speech_commands import (
    SC_URL,
    UNKNOWN,
    WORDS12,
    WORDS35,
    _speaker,
    download_speech_commands,
)

FOLDS = 5
LAYOUT = "<word>/<speaker hash>_nohash_<n>.wav, one folder per word, no list files"


def speaker_fold(speaker: str, folds: int = FOLDS) -> str:
    """The fold ("1" ... ``folds``) of a speaker: a hash of its id, stable across machines."""
    return str(1 + int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % folds)


def prepare_speech_commands_folds(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet``: keywords and ``_unknown_``, in five speaker folds."""
    return _prepare_folds(corpus_dir, output_dir, sample_rate, every_keyword=False)


def _prepare_folds(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int, every_keyword: bool
) -> PrepareReport:
    """The manifest of either recipe (``every_keyword``: all ten keywords of the 12-class task are
    classes, recorded here or not)."""
    corpus_dir = Path(corpus_dir)
    wavs = sorted(p for p in corpus_dir.glob("*/*.wav") if not p.parent.name.startswith("_"))
    if not wavs:
        raise DatasetError(f"{corpus_dir} holds no <word>/*.wav files; expected {LAYOUT}")
    words = sorted({p.parent.name for p in wavs})
    keywords = list(WORDS12) if every_keyword else [w for w in WORDS12 if w in words]
    if not set(keywords) & set(words):
        raise DatasetError(f"{corpus_dir} has none of the keywords {WORDS12} (its words: {words[:10]})")
    labels = [*keywords, UNKNOWN]
    sources, unused = [], []
    for wav in wavs:
        speaker, word = _speaker(wav.name), wav.parent.name
        if speaker is None:
            unused.append((wav, "its name is not <speaker>_nohash_<n>.wav"))
            continue
        label = word if word in keywords else UNKNOWN
        sources.append(
            ClipSource(f"speech_commands_mini/{word}/{wav.stem}", wav, speaker_fold(speaker), label,
                       labels.index(label), word if label != UNKNOWN else "an unknown word", speaker)
        )  # fmt: skip
    others = sorted(set(words) - set(keywords))
    notes = [f"keywords {keywords}; {UNKNOWN} from {others or 'no other word'}",
             f"{FOLDS} speaker folds by a hash of the speaker id"]  # fmt: skip
    missing = [w for w in WORDS12 if w not in words]
    if missing and not every_keyword:
        notes.append(f"keywords with no recording here (not classes of this manifest; speech_commands_mini10 "
                     f"keeps them as classes): {missing}")  # fmt: skip
    name = "speech_commands_mini10" if every_keyword else "speech_commands_mini"
    return write_manifest(name, sources, Path(output_dir), sample_rate, notes=notes, corpus_dir=corpus_dir,
                          unused=unused, classes=labels)  # fmt: skip


def prepare_every_keyword(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """``speech_commands_mini10``: the same corpus with all ten keywords as classes."""
    return _prepare_folds(corpus_dir, output_dir, sample_rate, every_keyword=True)


def _recipe(name: str, prepare, **extra) -> DatasetRecipe:
    """A recipe of the word-folder layout (both read ``<data_root>/speech_commands_mini`` by default)."""
    return DatasetRecipe(
        name, download_speech_commands, prepare, "a person saying the word {label}", LAYOUT, SC_URL, folds=FOLDS,
        speech_template="{label}", unknown_words=tuple(w for w in WORDS35 if w not in WORDS12), **extra,
    )  # fmt: skip


SPEECH_COMMANDS_MINI = register_dataset(_recipe("speech_commands_mini", prepare_speech_commands_folds))
# The ten keywords of the 12-class task (no _silence_: no background recordings in such a copy) and
# _unknown_, whether the copy has recordings of each or not: a keyword it lacks (on, off in
# ../shared/data/speech_commands_mini) is a class trained from synthetic speech only and never tested.
SPEECH_COMMANDS_MINI10 = register_dataset(
    _recipe("speech_commands_mini10", prepare_every_keyword, corpus="speech_commands_mini")
)
