"""Noise at a chosen SNR: training augmentation and noisy evaluation.

Mixing uses ``torchaudio.functional.add_noise``, which scales the noise so that
``10 log10(|clean|^2 / |scaled noise|^2)`` equals the target SNR over each clip. Noise comes
from a real noise manifest (``noise:<dir>``, split train/test by recording) or from synthetic
shards; a noise clip shorter than the speech is looped, and a random offset is taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import torch
import torchaudio.functional as AF

from raysynth.audio import decode_flac
from raysynth.datasets import read_manifest

if TYPE_CHECKING:
    from raysynth.train.context import TrialContext

SILENCE_RMS = 1e-6


class SilentNoiseError(ValueError):
    """A noise clip with no energy: the SNR of a mix with it is undefined."""


def loop_to_length(noise: np.ndarray, num_samples: int, offset: int = 0) -> np.ndarray:
    """``num_samples`` of ``noise`` starting at ``offset``, wrapping around (looping) as needed."""
    if noise.size == 0:
        raise SilentNoiseError("the noise clip is empty")
    index = (offset + np.arange(num_samples)) % noise.size
    return noise[index]


def mix_at_snr(clean: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Mix ``noise`` into ``clean`` (both ``[batch, samples]``) at ``snr_db`` (``[batch]``).

    Raises:
        SilentNoiseError: a noise row has no energy.
    """
    rms = noise.pow(2).mean(dim=-1).sqrt()
    if bool((rms < SILENCE_RMS).any()):
        raise SilentNoiseError(
            f"{int((rms < SILENCE_RMS).sum())} noise clip(s) are silent; the SNR is undefined"
        )
    return AF.add_noise(clean, noise, snr_db)


def measured_snr(clean: np.ndarray, mixed: np.ndarray) -> float:
    """The SNR of a mix, measured from its parts: clean energy over (mixed - clean) energy, in dB."""
    residual = mixed.astype(np.float64) - clean.astype(np.float64)
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum(residual**2)))


@dataclass
class NoiseBank:
    """Noise clips to draw from, each non-silent."""

    clips: list[np.ndarray]
    source: str

    def __post_init__(self) -> None:
        if not self.clips:
            raise ValueError(f"no noise clips in {self.source}")
        for i, clip in enumerate(self.clips):
            if clip.size == 0 or np.sqrt(np.mean(clip.astype(np.float64) ** 2)) < SILENCE_RMS:
                raise SilentNoiseError(
                    f"noise clip {i} of {self.source} is silent; its SNR would be undefined"
                )

    def draw(self, count: int, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` noise excerpts of ``num_samples``, random clip and offset, looped if short."""
        out = np.empty((count, num_samples), dtype=np.float32)
        for row in range(count):
            clip = self.clips[int(rng.integers(len(self.clips)))]
            out[row] = loop_to_length(clip, num_samples, int(rng.integers(clip.size)))
        return out

    @classmethod
    def from_manifest(cls, manifest: Path, split: str, sample_rate: int) -> NoiseBank:
        """Noise segments of one split ("train" or "test") of a ``noise:<dir>`` manifest."""
        table = read_manifest(manifest, columns=["split", "audio", "sample_rate"])
        table = table.filter(pa.compute.equal(table.column("split"), split))
        return cls(_decode_all(table, sample_rate), f"{manifest} [{split}]")

    @classmethod
    def from_shards(cls, folder: str | Path, recipe: str, draw: int, sample_rate: int) -> NoiseBank:
        """Synthetic noise clips of one recipe and draw from generated shards (a folder or an s3:// prefix)."""
        from raysynth import storage

        files = storage.list_files(folder)
        if not files:
            raise FileNotFoundError(f"no synthetic noise shards in {folder}; run the generation stage first")
        wanted = (pds.field("recipe") == recipe) & (pds.field("draw_seed") == draw)
        table = storage.dataset(files).to_table(columns=["audio", "sample_rate"], filter=wanted)
        return cls(_decode_all(table, sample_rate), f"{folder} (recipe {recipe}, draw {draw})")


def _decode_all(table: pa.Table, sample_rate: int) -> list[np.ndarray]:
    clips = []
    for row in table.to_pylist():
        if row["sample_rate"] != sample_rate:
            raise ValueError(f"noise is at {row['sample_rate']} Hz, expected {sample_rate} Hz")
        clips.append(decode_flac(row["audio"]["bytes"])[0])
    return clips


def noisy_copy(waves: np.ndarray, bank: NoiseBank, snr_db: float, seed: int, ids: list[str]) -> np.ndarray:
    """A fixed noisy version of ``waves`` at one SNR (for evaluation).

    Each clip's noise excerpt is drawn from a generator seeded by ``seed`` and the clip's id, so a
    clip gets the same mix whichever batch or set it is in.
    """
    noise = np.stack(
        [bank.draw(1, waves.shape[1], np.random.default_rng([seed, _id_key(i)]))[0] for i in ids]
    )
    clean = torch.from_numpy(waves)
    return mix_at_snr(clean, torch.from_numpy(noise), torch.full((len(waves),), float(snr_db))).numpy()


def _id_key(clip_id: str) -> int:
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:4], "little")


def training_noise(config: dict[str, Any], context: TrialContext) -> NoiseBank | None:
    """The noise bank for the trial's ``noise_source``: none, the real training recordings, or generated clips."""
    source = str(config.get("noise_source", "none"))
    if source == "none":
        return None
    if source == "real":
        if context.noise_manifest is None:
            raise ValueError(
                "noise_source 'real' needs a prepared noise manifest (noise.directory in the spec)"
            )
        return NoiseBank.from_manifest(context.noise_manifest, "train", context.sample_rate)
    if source == "synthetic":
        shards = context.noise_source(config)
        return NoiseBank.from_shards(shards.folder, shards.recipe, context.draw(config), context.sample_rate)
    raise ValueError(f"noise_source has to be none, real or synthetic, but is {source!r}")


def training_snr(config: dict[str, Any], context: TrialContext) -> tuple[float, float]:
    """The trial's training SNR range: its ``train_snr_db`` axis value, or ``noise.train_snr_db``."""
    value = config.get("train_snr_db")
    return (float(value[0]), float(value[1])) if value is not None else context.noise.train_snr_db


def noisy_seed(snr: float) -> int:
    """The seed of the noisy test set at ``snr``: the same for every trial and for the embedding cache."""
    return int(round(snr * 10)) + 1_000_003


def noisy_test_sets(waves: np.ndarray, ids: list[str], context: TrialContext) -> dict[float, np.ndarray]:
    """The test clips mixed with held-out real noise at each test SNR: the same for every trial."""
    if context.noise_manifest is None or not context.noise.test_snrs:  # trained with noise, tested clean
        return {}
    bank = NoiseBank.from_manifest(context.noise_manifest, "test", context.sample_rate)
    return {snr: noisy_copy(waves, bank, snr, noisy_seed(snr), ids) for snr in context.noise.test_snrs}
