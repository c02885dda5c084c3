"""Manifest preparation speed and resampling quality, old path and new side by side in one run.

For each source rate (44.1, 48, 22.05 and 24.414 kHz; TESS is recorded at 24,414 Hz), ``--files``
3 s WAV files are written and prepared to 16 kHz the way ``write_manifest`` does per file: decode
with soundfile, resample, encode FLAC.

- old: ``torchaudio.functional.resample`` per file, as the recipes did before; it rebuilds its
  polyphase kernel on every call, and for a rate pair with a large reduced ratio (24414/16000 =
  12207/8000) that kernel is huge.
- new: python-soxr (libsoxr, very high quality), which ``raysynth.audio.resample`` uses.
- new, whole prepare: ``write_manifest`` over the same files (decode, resample, FLAC, Parquet).

Quality: a swept sine from 1.1 × the target Nyquist (8.8 kHz) up to the source Nyquist should
vanish entirely after resampling to 16 kHz; what is left is aliasing. Alias rejection is the
input RMS over the output RMS, in dB (higher is better).

    uv run python bench/prepare.py [--files 40] [--old-files 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from raysynth.audio import encode_flac, resample
from raysynth.datasets.manifest import ClipSource, write_manifest

TARGET = 16000
RATES = [44100, 48000, 22050, 24414]


def old_resample(wave: np.ndarray, orig: int, target: int) -> np.ndarray:
    return AF.resample(torch.from_numpy(wave), orig, target).numpy()


def per_file(paths: list[Path], resampler) -> float:
    start = time.perf_counter()
    for path in paths:
        data, rate = sf.read(path, dtype="float32")
        encode_flac(resampler(data, rate, TARGET), TARGET)
    return len(paths) / (time.perf_counter() - start)


def sweep(rate: int, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    f0, f1 = 1.1 * TARGET / 2, 0.98 * rate / 2
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return (0.5 * np.sin(phase)).astype(np.float32)


def rejection_db(rate: int, resampler) -> float:
    x = sweep(rate)
    y = resampler(x, rate, TARGET)
    y = y[len(y) // 20 : -len(y) // 20]  # leave out the edges' filter transients
    return 20 * np.log10(np.sqrt(np.mean(x**2)) / max(np.sqrt(np.mean(y**2)), 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=40, help="files per rate for the new path")
    parser.add_argument("--old-files", type=int, default=4, help="files per rate for the old path (slow)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print(f"{'source rate':>11} | {'old files/s':>11} | {'new files/s':>11} | {'speed-up':>8} | "
          f"{'prepare files/s':>15} | {'alias rej. old':>14} | {'alias rej. new':>14}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.wav"  # first calls pay imports and allocator warm-up: not measured
        sf.write(warm, np.zeros(16000, np.float32) + 0.1, 44100)
        per_file([warm], old_resample), per_file([warm], resample)
        write_manifest(
            "bench", [ClipSource("bench/warm", warm, "train", "x", 0, "x")], Path(tmp) / "w", TARGET
        )
        for rate in RATES:
            folder = Path(tmp) / str(rate)
            folder.mkdir()
            paths = []
            for i in range(args.files):
                path = folder / f"clip{i}.wav"
                sf.write(
                    path, (0.1 * rng.standard_normal(3 * rate)).astype(np.float32), rate, subtype="PCM_16"
                )
                paths.append(path)
            old = per_file(paths[: args.old_files], old_resample)
            new = per_file(paths, resample)
            sources = [ClipSource(f"bench/{p.stem}", p, "train", "noise", 0, "noise") for p in paths]
            start = time.perf_counter()
            write_manifest("bench", sources, Path(tmp) / f"out{rate}", TARGET)
            whole = len(paths) / (time.perf_counter() - start)
            print(
                f"{rate:>11} | {old:>11.1f} | {new:>11.1f} | {new / old:>7.0f}x | {whole:>15.1f} | "
                f"{rejection_db(rate, old_resample):>11.1f} dB | {rejection_db(rate, resample):>11.1f} dB",
                flush=True,
            )


if __name__ == "__main__":
    main()
