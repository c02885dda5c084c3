"""Load: one generation run of 20,000 clips (eSpeak NG, CPU). Does the driver's memory stay flat, and
does throughput hold from the first quarter to the last?

A sampler thread records, every 0.5 s, the driver's resident memory (``/proc/self/status`` VmRSS)
and the clips on disk (shards × batch size). It prints the peak driver RSS up to 5,000 clips and
up to the end (target: ≤ 1.1×), and the throughput of the first and the last quarter of the clips
(target: ≥ 0.9×).

    uv run python bench/load.py [--clips 20000] [--batch-size 64] [--cpus 2]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from raysynth.cli import init_ray
from raysynth.config import GenerationConfig
from raysynth.datasets.fsdd import DIGIT_WORDS
from raysynth.generate import ClassInfo, plan_clips, run_generation, shard_files
from raysynth.generators import generation_recipe

CLASSES = [ClassInfo(str(i), i, word) for i, word in enumerate(DIGIT_WORDS)]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    config = GenerationConfig(generator="tts", duration_s=1.0, batch_size=args.batch_size)
    plan = plan_clips(
        "bench", CLASSES, generation_recipe(config), "label", args.clips // 10, 0, template="{label}"
    )
    init_ray(args.cpus)
    samples: list[tuple[float, int, float]] = []  # (seconds, clips on disk, driver RSS MiB)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "shards"
        done = threading.Event()

        def sample() -> None:
            start = time.perf_counter()
            while not done.is_set():
                clips = len(shard_files(out)) * args.batch_size if out.is_dir() else 0
                samples.append((time.perf_counter() - start, min(clips, len(plan)), rss_mib()))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        summary = run_generation(plan, out, config, 16000)
        done.set()
        sampler.join()
        written = len(shard_files(out))
    assert summary.written == len(plan), summary
    n = len(plan)
    peak_5k = max(rss for _, clips, rss in samples if clips <= 5000)
    peak_all = max(rss for _, _, rss in samples)

    def time_at(count: int) -> float:
        return next(t for t, clips, _ in samples if clips >= count)

    first = (n // 4) / (time_at(n // 4) - time_at(1))
    last = (n - 3 * n // 4) / (samples[-1][0] - time_at(3 * n // 4))
    print(
        f"eSpeak NG load run: {n} clips in {written} shards, {summary.seconds:.0f} s, {args.cpus} CPU actors"
    )
    print(f"  peak driver RSS: {peak_5k:.0f} MiB up to 5,000 clips, {peak_all:.0f} MiB up to {n:,} "
          f"({peak_all / peak_5k:.3f}x; target <= 1.1x)")  # fmt: skip
    print(f"  throughput (from the first shard): first quarter {first:.0f} clips/s, last quarter {last:.0f} clips/s "
          f"({last / first:.2f}x; target >= 0.9x)")  # fmt: skip


if __name__ == "__main__":
    main()
