"""TEST-ONLY toy corpus: four clearly separable sound classes made in code.

This is not a real corpus. It exists so that ``jobs/sweep.py --smoke-test`` and the tests run
offline in seconds. Labels: beep, chirp, noise burst, click train; 16 clips per class, of
which indices 0-3 are test, 4-5 valid and the rest train.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset

TOY_LABELS = ["beep", "chirp", "noise burst", "click train"]


def toy_clip(
    label: str = "beep", seed: int = 0, sample_rate: int = 16000, seconds: float = 1.0
) -> np.ndarray:
    """A clip of one of the toy classes: easy to tell apart, different for every seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    if label == "beep":
        wave = np.sin(2 * np.pi * rng.uniform(400, 900) * t)
    elif label == "chirp":
        f0, f1 = rng.uniform(300, 600), rng.uniform(2000, 4000)
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    elif label == "noise burst":
        wave = rng.standard_normal(t.size) * (t < rng.uniform(0.3, 0.7) * seconds)
    elif label == "click train":
        wave = np.zeros(t.size)
        period = int(sample_rate / rng.uniform(5, 15))
        wave[rng.integers(0, period) :: period] = 1.0
    else:
        raise ValueError(f"unknown toy label '{label}'; expected one of {TOY_LABELS}")
    wave = wave + 0.01 * rng.standard_normal(t.size)
    return (0.5 * wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


def make_toy_corpus(target_dir: str | Path, clips_per_class: int = 16, sample_rate: int = 16000) -> Path:
    """Write the TEST-ONLY toy corpus: ``<target_dir>/toy/<label>/<label>_<index>.wav``."""
    corpus = Path(target_dir) / "toy"
    for label_id, label in enumerate(TOY_LABELS):
        folder = corpus / label.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_class):
            path = folder / f"{label.replace(' ', '_')}_{index}.wav"
            if not path.exists():
                sf.write(
                    path,
                    toy_clip(label, seed=1000 * label_id + index, sample_rate=sample_rate),
                    sample_rate,
                )
    return corpus


TOY_NOISES = ["hum", "hiss", "crackle"]


def make_toy_noise(target_dir: str | Path, seconds: float = 6.0, sample_rate: int = 16000) -> Path:
    """Write TEST-ONLY noise recordings (mains hum, hiss, crackle): ``<target_dir>/toy_noise/<name>.wav``."""
    folder = Path(target_dir) / "toy_noise"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    waves = {
        "hum": np.sin(2 * np.pi * 50 * t) + 0.3 * np.sin(2 * np.pi * 150 * t),
        "hiss": rng.standard_normal(t.size),
        "crackle": (rng.random(t.size) < 0.01) * rng.standard_normal(t.size) * 3
        + 0.05 * rng.standard_normal(t.size),
    }
    for name, wave in waves.items():
        path = folder / f"{name}.wav"
        if not path.exists():
            sf.write(path, (0.3 * wave / np.abs(wave).max()).astype(np.float32), sample_rate)
    return folder


def download_toy(target_dir: str | Path) -> Path:
    """'Download' the toy corpus and its noise recordings (``toy_noise/``): built in code, no network."""
    make_toy_noise(target_dir)
    return make_toy_corpus(target_dir)


def prepare_toy(corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` from the toy corpus."""
    sources = []
    for label_id, label in enumerate(TOY_LABELS):
        folder = Path(corpus_dir) / label.replace(" ", "_")
        if not folder.is_dir():
            raise DatasetError(f"expected the toy layout {folder}/*.wav; build it with make_toy_corpus()")
        for path in sorted(folder.glob("*.wav")):
            index = int(path.stem.rsplit("_", 1)[1])
            split = "test" if index < 4 else "valid" if index < 6 else "train"
            sources.append(ClipSource(f"toy/{path.stem}", path, split, label, label_id, label))
    return write_manifest("toy", sources, Path(output_dir), sample_rate, corpus_dir=Path(corpus_dir))


TOY = register_dataset(
    DatasetRecipe(
        name="toy",
        download=download_toy,
        prepare=prepare_toy,
        prompt_template="{label} sound",
        layout="toy/<label>/<label>_<index>.wav",
        url="(built in code by make_toy_corpus; test-only)",
        test_only=True,
    )
)
