"""Generation benchmarks, measured side by side in one run (tiny AudioGen on CPU).

1. Batched engine vs the paper's pattern (one prompt per call): clips/s and their ratio.
2. Ray Data pipeline vs a plain loop over the same batched generator: the overhead in %.

    uv run python bench/generation.py [--clips 64] [--batch-size 16] [--duration 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from raysynth.cli import init_ray
from raysynth.config import GenerationConfig
from raysynth.generate import ClassInfo, plan_clips, run_generation
from raysynth.generate.engine import ShardWriter, chunk_plan

CLASSES = [ClassInfo(label, i, label) for i, label in enumerate(["dog bark", "rain", "siren", "door knock"])]


def clips_per_second(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()

    config = GenerationConfig(
        tiny=True, duration_s=args.duration, batch_size=args.batch_size, num_gpus=0, concurrency=1, top_k=50
    )
    plan = plan_clips("bench", CLASSES, "audiogen", "raysynth/tiny-audiogen", "label", args.clips // 4, 0)
    chunks = chunk_plan(plan, args.batch_size, set())

    with tempfile.TemporaryDirectory() as tmp:
        writer = ShardWriter(config.model_dump_json(), str(Path(tmp) / "loop"), 16000, {})
        generator = writer.generator
        generator.generate(["warm up"], [0], args.duration)

        # 1. Naive: one prompt per call.
        start = time.perf_counter()
        for row in plan:
            generator.generate([row["prompt"]], [row["seed"]], args.duration)
        naive = clips_per_second(len(plan), time.perf_counter() - start)

        # 1+2. Plain loop over batches, with FLAC encoding and shard writing (what an actor does).
        start = time.perf_counter()
        for chunk in chunks:
            waves = generator.generate(
                [r["prompt"] for r in chunk], [r["seed"] for r in chunk], args.duration
            )
            writer.write(chunk, waves, 0.0)
        loop_seconds = time.perf_counter() - start
        batched = clips_per_second(len(plan), loop_seconds)

        # 2. The same work through the Ray Data pipeline (actor start-up included), and a one-batch
        #    run, which is almost all start-up: the difference is the pipeline's steady state.
        init_ray()
        start = time.perf_counter()
        run_generation(plan[: args.batch_size], Path(tmp) / "startup", config, 16000)
        startup_seconds = time.perf_counter() - start
        start = time.perf_counter()
        summary = run_generation(plan, Path(tmp) / "ray", config, 16000)
        ray_seconds = time.perf_counter() - start
        assert summary.written == len(plan)
        steady = ray_seconds - startup_seconds
        loop_rest = loop_seconds * (len(plan) - args.batch_size) / len(plan)

    print(f"clips={len(plan)} batch_size={args.batch_size} duration={args.duration}s (tiny AudioGen, CPU)")
    print(f"1. naive (1 prompt/call): {naive:8.2f} clips/s")
    print(f"   batched engine:        {batched:8.2f} clips/s   ratio {batched / naive:.2f}x")
    print(f"2. plain loop:            {loop_seconds:8.2f} s")
    print(
        f"   Ray Data pipeline:     {ray_seconds:8.2f} s   overhead {100 * (ray_seconds / loop_seconds - 1):+.0f}%"
    )
    print(f"   one-batch pipeline run (start-up): {startup_seconds:.2f} s; steady state {steady:.2f} s vs "
          f"{loop_rest:.2f} s in the loop: overhead {100 * (steady / loop_rest - 1):+.0f}%")  # fmt: skip


if __name__ == "__main__":
    main()
