"""Training-time augmentation beyond SpecAugment: speed perturbation of the waveform and a
vocal-tract-length-like warp of the log-mel frequency axis, each drawn per clip.

Both widen what a model hears, which matters most when it trains on synthetic speech and is tested
on real speakers (formant synthesis has few voices). They apply to training batches only.
"""

from __future__ import annotations

import numpy as np
import torch

from raysynth.audio import fix_length, resample


def speed_perturb(waves: np.ndarray, sample_rate: int, factors: np.ndarray) -> np.ndarray:
    """Each row played ``factor`` times faster (pitch and tempo together, as Kaldi's speed
    perturbation), then cropped or zero-padded back to its length."""
    out = np.empty_like(waves)
    for row, factor in enumerate(factors):
        stretched = int(round(sample_rate / float(factor)))
        out[row] = fix_length(resample(waves[row], stretched, sample_rate), waves.shape[1])
    return out


def draw_speeds(count: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(low, high, count)


def frequency_warp(features: torch.Tensor, factors: np.ndarray) -> torch.Tensor:
    """Stretch (factor > 1) or squeeze each row's log-mel ``[batch, 1, mels, frames]`` along the
    frequency axis, keeping its size: a vocal-tract-length perturbation on the mel scale."""
    mels = features.shape[2]
    rows = []
    for row, factor in zip(features, factors, strict=True):
        size = max(1, int(round(mels * float(factor))))
        warped = torch.nn.functional.interpolate(row[None], size=(size, row.shape[-1]), mode="bilinear",
                                                 align_corners=False)[0]  # fmt: skip
        if size >= mels:
            warped = warped[:, :mels]
        else:
            floor = row.amin()
            warped = torch.cat([warped, floor.expand(1, mels - size, row.shape[-1])], dim=1)
        rows.append(warped)
    return torch.stack(rows)
