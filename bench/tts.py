"""eSpeak NG generation throughput on CPU, measured side by side in one run.

1. A plain loop in one process: generate, resample to the dataset rate, encode FLAC, write shards
   (exactly what a generation actor does, without Ray).
2. The same plan through the Ray Data engine with one actor per CPU (``generation.num_gpus: 0``),
   from cold (actor start-up included) and once warm (a second plan on live actors is not possible
   across runs, so the start-up is measured by a one-batch run and subtracted, as bench/generation.py does).

    uv run python bench/tts.py [--clips 4000] [--sample-rate 16000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from raysynth.cli import init_ray
from raysynth.config import GenerationConfig
from raysynth.datasets.fsdd import DIGIT_WORDS
from raysynth.generate import ClassInfo, plan_clips, run_generation
from raysynth.generate.engine import ShardWriter, chunk_plan
from raysynth.generators import generation_recipe

CLASSES = [ClassInfo(str(i), i, word) for i, word in enumerate(DIGIT_WORDS)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=4000)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    config = GenerationConfig(generator="tts", duration_s=1.0, batch_size=args.batch_size)
    plan = plan_clips(
        "bench", CLASSES, generation_recipe(config), "label", args.clips // 10, 0, template="{label}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        writer = ShardWriter(config.model_dump_json(), str(Path(tmp) / "loop"), args.sample_rate, {})
        start = time.perf_counter()
        for chunk in chunk_plan(plan, args.batch_size, set()):
            waves = writer.generator.generate([r["prompt"] for r in chunk], [r["seed"] for r in chunk], 1.0)
            writer.write(*writer.guard(chunk, waves)[:2], 0.0)
        loop = time.perf_counter() - start
        init_ray(args.cpus)
        start = time.perf_counter()
        run_generation(plan[: args.batch_size], Path(tmp) / "startup", config, args.sample_rate)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        summary = run_generation(plan, Path(tmp) / "ray", config, args.sample_rate)
        ray_seconds = time.perf_counter() - start
    assert summary.written == len(plan), summary
    print(f"eSpeak NG, {len(plan)} clips of 1 s at {args.sample_rate} Hz, {args.cpus} CPUs")
    print(f"  plain loop, one process:     {loop:6.1f} s  {len(plan) / loop:7.1f} clips/s")
    print(f"  Ray Data, {args.cpus} CPU actors (cold): {ray_seconds:6.1f} s  {len(plan) / ray_seconds:7.1f} clips/s "
          f"({len(plan) / ray_seconds / (len(plan) / loop):.2f}x the loop)")  # fmt: skip
    steady = ray_seconds - startup
    print(f"  Ray Data steady state:       {steady:6.1f} s  {len(plan) / steady:7.1f} clips/s "
          f"(a one-batch run, {startup:.1f} s, is the start-up)")  # fmt: skip


if __name__ == "__main__":
    main()
