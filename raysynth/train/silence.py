"""Synthetic clips of a silence class, for speech backends: background noise, never speech.

A text-to-speech backend must not say "silence" for Speech Commands' ``_silence_``. Its synthetic
clips are made here, in the trial, seeded by the draw, the split and the index:

- with a noise manifest (``noise.directory``): one-second crops of its **training** recordings
  (never a held-out test recording), each at a random gain in [0.1, 1], as Speech Commands makes
  its own silence class;
- without one: low-level white noise, -70 to -45 dBFS RMS.

The trial's record says which (``synthetic_silence``).
"""

from __future__ import annotations

import numpy as np

from raysynth import workspace
from raysynth.train.data import ClipSet

LOW_LEVEL_DBFS = (-70.0, -45.0)
GAIN = (0.1, 1.0)
_SPLIT_KEY = {"train": 0, "valid": 1}


def silence_source(noise_manifest: str | None) -> str:
    """What the silence clips are made of, as the trial records it."""
    if noise_manifest is None:
        return (
            f"low-level white noise, {LOW_LEVEL_DBFS[0]:g} to {LOW_LEVEL_DBFS[1]:g} dBFS (no noise.directory)"
        )
    return f"crops of the training noise recordings of {workspace.name(workspace.parent(noise_manifest))}, gain {GAIN[0]}-{GAIN[1]}"


def silence_clips(
    counts: dict[str, int], class_names: list[str], noise_manifest: str | None, sample_rate: int,
    num_samples: int, draw: int, split: str = "train",
) -> ClipSet:  # fmt: skip
    """``counts[label]`` silence clips per silence label (see the module docstring)."""
    bank = None
    if noise_manifest is not None and any(counts.values()):
        from raysynth.train.noise import NoiseBank

        bank = NoiseBank.from_manifest(noise_manifest, "train", sample_rate)
    waves, labels, ids = [], [], []
    for label, count in sorted(counts.items()):
        for index in range(count):
            rng = np.random.default_rng([draw, _SPLIT_KEY[split], class_names.index(label), index])
            if bank is not None:
                wave = bank.draw(1, num_samples, rng)[0] * np.float32(rng.uniform(*GAIN))
            else:
                rms = 10 ** (rng.uniform(*LOW_LEVEL_DBFS) / 20)
                wave = (rng.standard_normal(num_samples) * rms).astype(np.float32)
            waves.append(wave.astype(np.float32))
            labels.append(class_names.index(label))
            ids.append(f"silence-{split}-{draw}-{label}-{index}")
    if not waves:
        return ClipSet(np.zeros((0, num_samples), np.float32), np.zeros(0, np.int64), [])
    return ClipSet(np.stack(waves), np.array(labels, dtype=np.int64), ids)
