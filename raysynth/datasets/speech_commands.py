"""Google Speech Commands v0.02: 105,829 one-second utterances of 35 words by 2,618 speakers.

P. Warden, "Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition", 2018;
CC BY 4.0, http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz. 16 kHz mono WAV.

Layout: ``<word>/<speaker hash>_nohash_<n>.wav``, the official ``validation_list.txt`` and
``testing_list.txt`` (paths relative to the root; everything else is train), and
``_background_noise_/*.wav``. Two variants:

- ``speech_commands``: the 35 words.
- ``speech_commands12``: the 12-class task (it reads the same corpus folder): yes, no, up, down, left, right, on, off, stop, go,
  ``_unknown_`` (every other word) and ``_silence_`` (one-second crops of the background noise,
  as many per split as an average word class has). Each background recording feeds one split's
  silence only (a seeded split of the recordings), so test silence is never heard in training.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from raysynth.audio import Decoded, load_audio
from raysynth.datasets.download import download_and_extract
from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset
from raysynth.datasets.sampling import group_split

SC_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
LAYOUT = "<word>/<hash>_nohash_<n>.wav, validation_list.txt, testing_list.txt, _background_noise_/"
WORDS12 = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
WORDS35 = [*WORDS12, "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "bed", "bird",
           "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow", "backward", "forward", "follow",
           "learn", "visual"]  # fmt: skip
NOISE_DIR = "_background_noise_"
_SPEAKER = re.compile(r"^([0-9a-f]+)_nohash_\d+\.wav$")


def download_speech_commands(target_dir: str | Path, url: str = SC_URL) -> Path:
    return download_and_extract(url, target_dir, "speech_commands")


UNKNOWN, SILENCE = "_unknown_", "_silence_"


@dataclass
class Scan:
    """The utterances of a Speech Commands copy: ``(relative path, word, split)``, with what was
    left out (and why) and notes."""

    entries: list[tuple[str, str, str]]
    unused: list[tuple[Path, str]]
    notes: list[str]
    test_release: bool = False  # the separately published test set: folders per label, no lists
    silence: list[str] = field(default_factory=list)  # the test release's _silence_ recordings


MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # the dataset README's constant of which_set


def which_set(filename: str, validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> str:
    """The split of an utterance by the dataset's own rule (its README's ``which_set``): a hash of the
    speaker part of the file name, so a speaker's utterances all land in one split. Returns
    ``train``, ``valid`` or ``test``."""
    speaker = re.sub(r"_nohash_.*$", "", Path(filename).name)
    hashed = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percentage = (hashed % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "valid"
    return "test" if percentage < validation_percentage + testing_percentage else "train"


def _scan(corpus_dir: Path) -> Scan:
    """Every utterance of the training release (with its lists, or without them: the hash rule), or
    of the test-set release."""
    test_release = not (corpus_dir / "testing_list.txt").is_file() and (
        (corpus_dir / UNKNOWN).is_dir() or (corpus_dir / SILENCE).is_dir()
    )
    words = [p for p in corpus_dir.glob("*/") if p.is_dir() and not p.name.startswith("_")]
    if not (corpus_dir / "testing_list.txt").is_file() and not test_release and not words:
        raise DatasetError(
            f"{corpus_dir} does not look like Speech Commands: expected {LAYOUT}, or the test-set release "
            f"(<word>/, _unknown_/, _silence_/). Source: {SC_URL}"
        )
    notes, lists = [], {}
    names = ("validation_list.txt", "testing_list.txt")
    hashed = not test_release and not any((corpus_dir / name).is_file() for name in names)
    if test_release:
        notes.append("the test-set release: every utterance is test data (train on synthetic clips)")
    for split, name in zip(("valid", "test"), names, strict=True):
        path = corpus_dir / name
        if path.is_file():
            lists.update({line.strip(): split for line in path.read_text().splitlines() if line.strip()})
        elif not test_release and not hashed:
            notes.append(f"{name} absent: those utterances are treated as train")
    if hashed:
        notes.append(
            "no validation_list.txt/testing_list.txt: splits by the dataset's own hash rule (which_set)"
        )
    scan = Scan([], [], notes, test_release)
    for wav in sorted(corpus_dir.glob("*/*.wav")):
        folder, relative = wav.parent.name, f"{wav.parent.name}/{wav.name}"
        if test_release and folder == UNKNOWN:
            scan.entries.append((relative, wav.name.split("_", 1)[0], "test"))  # bed_0c40e715_nohash_0.wav
        elif test_release and folder == SILENCE:
            scan.silence.append(relative)
        elif folder.startswith("_"):
            if folder != NOISE_DIR:
                scan.unused.append((wav, f"in {folder}/, a folder that holds no word"))
        else:
            split = which_set(wav.name) if hashed else lists.get(relative, "train")
            scan.entries.append((relative, folder, "test" if test_release else split))
    if not scan.entries:
        raise DatasetError(f"{corpus_dir} holds no <word>/*.wav files")
    return scan


def _speaker(name: str) -> str | None:
    match = _SPEAKER.match(name)
    return match.group(1) if match else None


def prepare_speech_commands(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (35 words, official lists, or the test-set release)."""
    corpus_dir = Path(corpus_dir)
    scan = _scan(corpus_dir)
    words = sorted({word for _, word, _ in scan.entries})
    sources = [
        ClipSource(f"speech_commands/{rel[:-4]}", corpus_dir / rel, split, word, words.index(word), word,
                   _speaker(rel.split("/")[1]))
        for rel, word, split in scan.entries
    ]  # fmt: skip
    unused = scan.unused + [
        (corpus_dir / rel, "silence: the 35-word task has no silence class") for rel in scan.silence
    ]
    unused += [(p, "background noise, not an utterance") for p in (corpus_dir / NOISE_DIR).glob("*.wav")]
    return write_manifest(
        "speech_commands",
        sources,
        Path(output_dir),
        sample_rate,
        notes=scan.notes,
        corpus_dir=corpus_dir,
        unused=unused,
    )


class _SilenceLoader:
    """Loads real files, and one-second crops of background noise for ``#silence`` pseudo-paths."""

    def __init__(self, noise: dict[str, Path], seed: int = 0) -> None:
        self.noise = noise
        self.seed = seed

    def __call__(self, path: Path, sample_rate: int) -> Decoded:
        if "#silence" not in path.name:
            return load_audio(path, sample_rate)
        stem, index = path.name.split("#silence")
        decoded = load_audio(self.noise[stem], sample_rate)
        rng = np.random.default_rng([self.seed, int(index)])
        start = int(rng.integers(0, max(1, decoded.wave.size - sample_rate)))
        gain = rng.uniform(0.0, 1.0)
        wave = decoded.wave[start : start + sample_rate] * gain
        return Decoded(wave, sample_rate, decoded.orig_sample_rate, decoded.orig_channels)


def prepare_speech_commands12(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (10 words + _unknown_ + _silence_)."""
    corpus_dir = Path(corpus_dir)
    scan = _scan(corpus_dir)
    labels = [*WORDS12, UNKNOWN, SILENCE]
    sources = []
    for rel, word, split in scan.entries:
        label = word if word in WORDS12 else UNKNOWN
        sources.append(
            ClipSource(
                f"speech_commands12/{rel[:-4]}", corpus_dir / rel, split, label, labels.index(label),
                word if word in WORDS12 else "an unknown word", _speaker(rel.split("/")[1]),
            )
        )  # fmt: skip
    notes = list(scan.notes)
    if scan.test_release:  # its silence clips are recordings of their own
        sources += [
            ClipSource(f"speech_commands12/{rel[:-4]}", corpus_dir / rel, "test", SILENCE, labels.index(SILENCE), "silence")
            for rel in scan.silence
        ]  # fmt: skip
    else:
        sources += _silence_crops(corpus_dir, scan, labels, seed, notes)
    noise = {p.stem: p for p in sorted((corpus_dir / NOISE_DIR).glob("*.wav"))}
    return write_manifest(
        "speech_commands12", sources, Path(output_dir), sample_rate, notes=notes, loader=_SilenceLoader(noise, seed),
        corpus_dir=corpus_dir, unused=scan.unused, classes=labels,
    )  # fmt: skip


def _silence_crops(
    corpus_dir: Path, scan: Scan, labels: list[str], seed: int, notes: list[str]
) -> list[ClipSource]:
    """One-second crops of the background recordings, as many per split as an average word has.

    Each recording feeds the silence of one split only (a seeded split of the recordings), so no
    split hears another's.
    """
    noise = {p.stem: p for p in sorted((corpus_dir / NOISE_DIR).glob("*.wav"))}
    if not noise:
        notes.append(f"no {NOISE_DIR}/*.wav: the _silence_ class is empty")
        return []
    noise_split = group_split(sorted(noise), seed, valid=0.2, test=0.2)
    sources = []
    for split in ("train", "valid", "test"):
        stems = [stem for stem in sorted(noise) if noise_split[stem] == split]
        if not stems:
            notes.append(
                f"no background recording is left for {split} silence: that split has no _silence_ clips"
            )
        known = [w for _, w, s in scan.entries if s == split and w in WORDS12]
        per_word = len(known) // max(1, len(set(known)))
        for index in range(per_word if stems else 0):
            stem = stems[index % len(stems)]
            sources.append(
                ClipSource(
                    f"speech_commands12/_silence_/{split}-{index}",
                    corpus_dir / NOISE_DIR / f"{stem}#silence{hash_index(split, index)}", split, SILENCE,
                    labels.index(SILENCE), "silence", virtual=True, origin=noise[stem],
                )
            )  # fmt: skip
    notes.append(
        "silence from: "
        + "; ".join(
            f"{s} {', '.join(n for n in sorted(noise) if noise_split[n] == s)}"
            for s in ("train", "valid", "test")
        )
    )
    return sources


def hash_index(split: str, index: int) -> int:
    """A distinct crop number per (split, index), so splits never share a crop."""
    return {"train": 0, "valid": 1, "test": 2}[split] * 1_000_000 + index


SPEECH_COMMANDS = register_dataset(
    DatasetRecipe(
        "speech_commands",
        download_speech_commands,
        prepare_speech_commands,
        "a person saying the word {label}",
        LAYOUT,
        SC_URL,
        speech_template="{label}",
        version=2,  # 2: without list files, splits by the hash rule
    )
)
SPEECH_COMMANDS12 = register_dataset(
    DatasetRecipe(
        "speech_commands12",
        download_speech_commands,
        prepare_speech_commands12,
        "a person saying the word {label}",
        LAYOUT,
        SC_URL,
        corpus="speech_commands",
        speech_template="{label}",
        unknown_words=tuple(w for w in WORDS35 if w not in WORDS12),
        version=4,  # 2: each background recording feeds one split's silence; 3: the hash rule without lists; 4: a keyword with no recording is a named class
    )
)
