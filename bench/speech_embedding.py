"""The frozen speech embedding's pass over real clips, measured side by side in one run.

1. One clip per ONNX call, in one process.
2. Batches of 64, in one process.
3. Ray Data, one actor per CPU, batches of 64, from cold (actor start and model load included)
   and in the steady state (a one-batch-per-actor run on fresh actors is subtracted).

Clips: real 1-s Speech Commands recordings from ``speech_commands_mini`` (padded to 1 s), 16 kHz.

    uv run python bench/speech_embedding.py [--clips 2000] [--cpus 2] [--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from raysynth.cli import init_ray
from raysynth.train.models.speech_embedding import SpeechEmbedder


class EmbedBatch:
    """Ray Data callable class: the embedder loaded once per actor."""

    def __init__(self) -> None:
        self.embedder = SpeechEmbedder(threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = self.embedder.frames(np.stack(batch["wave"]))
        return {"frames": frames.reshape(len(frames), -1)}


def load_clips(root: Path, count: int) -> np.ndarray:
    files = sorted((root / "speech_commands_mini").glob("*/*.wav"))[:count]
    waves = np.zeros((len(files), 16000), np.float32)
    for i, path in enumerate(files):
        wave, _ = sf.read(path, dtype="float32")
        waves[i, : min(16000, wave.size)] = wave[:16000]
    return waves


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    import ray

    waves = load_clips(args.data_root, args.clips)
    n = len(waves)
    embedder = SpeechEmbedder(threads=1)
    start = time.perf_counter()
    singles = [embedder.frames(w[None]) for w in waves[: max(1, n // 4)]]
    single = (time.perf_counter() - start) / len(singles) * n
    start = time.perf_counter()
    batched = embedder.frames(waves)
    loop = time.perf_counter() - start
    np.testing.assert_allclose(np.concatenate(singles), batched[: len(singles)], rtol=1e-4, atol=1e-4)
    init_ray(args.cpus)

    def through_ray(part: np.ndarray) -> float:
        start = time.perf_counter()
        data = ray.data.from_items([{"wave": w} for w in part], override_num_blocks=max(1, len(part) // 64))
        out = data.map_batches(EmbedBatch, batch_size=64, compute=ray.data.ActorPoolStrategy(size=args.cpus),
                               num_cpus=1)  # fmt: skip
        assert sum(len(b["frames"]) for b in out.iter_batches(batch_size=None)) == len(part)
        return time.perf_counter() - start

    startup = through_ray(waves[: 64 * args.cpus])
    cold = through_ray(waves)
    steady = max(cold - startup, 1e-9)
    rest = n - min(n, 64 * args.cpus)
    print(
        f"speech embedding (openWakeWord front end, ONNX), {n} real clips of 1 s at 16 kHz, {args.cpus} CPUs"
    )
    print(f"  one clip per call, one process: {n / single:7.1f} clips/s")
    print(f"  batches of 64, one process:     {n / loop:7.1f} clips/s ({single / loop:.2f}x one per call)")
    print(
        f"  Ray Data, {args.cpus} actors, from cold:  {n / cold:7.1f} clips/s (start-up run {startup:.1f} s)"
    )
    print(
        f"  Ray Data steady state:          {rest / steady:7.1f} clips/s ({rest / steady / (n / loop):.2f}x the loop)"
    )


if __name__ == "__main__":
    main()
