"""Driver memory and object-store use while generating N tiny clips: must stay flat as N grows.

Each actor writes its own shards; only a small summary row per shard reaches the driver, so the
driver's RSS and the object store should not grow with the number of clips.

    uv run python bench/memory.py [--counts 500 2000] [--duration 0.5]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from raysynth.cli import init_ray
from raysynth.config import GenerationConfig
from raysynth.generate import ClassInfo, plan_clips, run_generation
from raysynth.generators import generation_recipe


def rss_bytes() -> int:
    """This process's resident set size, from /proc (Linux; psutil is not a dependency)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    """Polls the driver's RSS and the object store's use; keeps the peaks."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import ray

        self.ray, self.stop, self.rss, self.store = ray, threading.Event(), 0, 0
        self.total_store = ray.cluster_resources().get("object_store_memory", 0)

    def run(self) -> None:
        while not self.stop.is_set():
            self.rss = max(self.rss, rss_bytes())
            used = self.total_store - self.ray.available_resources().get(
                "object_store_memory", self.total_store
            )
            self.store = max(self.store, used)
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--duration", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    init_ray()
    config = GenerationConfig(
        tiny=True, duration_s=args.duration, batch_size=args.batch_size, num_gpus=0, concurrency=1, top_k=50
    )
    classes = [ClassInfo(f"class {i}", i, f"class {i}") for i in range(10)]
    print(f"tiny AudioGen, {args.duration:g} s clips, batch {args.batch_size}, CPU")
    for count in args.counts:
        plan = plan_clips("bench", classes, generation_recipe(config), "label", count // 10, 0)
        sampler = Sampler()
        baseline = rss_bytes()
        sampler.start()
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_generation(plan, Path(tmp), config, 16000)
        sampler.stop.set()
        sampler.join()
        print(
            f"{count:6d} clips: {summary.clips_per_second:6.1f} clips/s, driver RSS peak {sampler.rss / 2**20:7.1f} MiB "
            f"(+{(sampler.rss - baseline) / 2**20:5.1f} MiB during the run), "
            f"object store peak {sampler.store / 2**20:6.1f} MiB"
        )


if __name__ == "__main__":
    main()
