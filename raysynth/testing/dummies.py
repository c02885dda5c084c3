"""Factories for test-only audio, manifests and shards (lhotse's ``dummies`` pattern)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf

from raysynth.audio import encode_flac
from raysynth.schemas import REAL_MANIFEST_SCHEMA, SYNTH_SHARD_SCHEMA, write_table_atomic

TOY_LABELS = ["beep", "chirp", "noise burst", "click train"]


def dummy_clip(
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
                    dummy_clip(label, seed=1000 * label_id + index, sample_rate=sample_rate),
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


def dummy_manifest(
    path: Path,
    labels: list[str] | None = None,
    per_split: dict[str, int] | None = None,
    sample_rate: int = 16000,
) -> Path:
    """A real-manifest Parquet of toy clips, with ``per_split`` clips per class and split."""
    labels = labels or TOY_LABELS
    per_split = per_split or {"train": 6, "valid": 2, "test": 2}
    rows = []
    for label_id, label in enumerate(labels):
        for split, count in per_split.items():
            for index in range(count):
                wave = dummy_clip(
                    label if label in TOY_LABELS else "beep",
                    seed=zlib.crc32(f"{label}/{split}/{index}".encode()),
                )
                rows.append(
                    {
                        "id": f"dummy/{label}/{split}/{index}",
                        "dataset": "dummy",
                        "split": split,
                        "label": label,
                        "label_id": label_id,
                        "label_text": label,
                        "audio": {"bytes": encode_flac(wave, sample_rate), "path": None},
                        "sample_rate": sample_rate,
                        "num_samples": wave.size,
                        "speaker": None,
                        "orig_sample_rate": sample_rate,
                        "orig_channels": 1,
                    }
                )
    return write_table_atomic(pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA), Path(path))


def dummy_shard(
    path: Path, labels: list[str] | None = None, clips_per_class: int = 4, sample_rate: int = 16000
) -> Path:
    """A synthetic shard of toy clips in the shard schema."""
    labels = labels or TOY_LABELS
    rows = []
    for label_id, label in enumerate(labels):
        for index in range(clips_per_class):
            wave = dummy_clip(label if label in TOY_LABELS else "beep", seed=7919 * index + label_id)
            rows.append(
                {
                    "id": f"synth/{label}/{index}",
                    "dataset": "dummy",
                    "label": label,
                    "label_id": label_id,
                    "generator": "dummy",
                    "model_id": "dummy",
                    "strategy": "label",
                    "prompt": f"{label} sound",
                    "seed": index,
                    "index": index,
                    "sample_rate": sample_rate,
                    "num_samples": wave.size,
                    "audio": {"bytes": encode_flac(wave, sample_rate), "path": None},
                    "gen_seconds": 0.0,
                }
            )
    return write_table_atomic(pa.Table.from_pylist(rows, schema=SYNTH_SHARD_SCHEMA), Path(path))
