"""Generation benchmarks, measured side by side in one run (tiny models on CPU).

1. For each backend: batched engine vs the paper's pattern (one prompt per call, fp32), clips/s
   and their ratio.
2. Ray Data pipeline vs a plain loop over the same batched generator (``--pipeline-generator``):
   the overhead in %.

    uv run python bench/generation.py [--clips 64] [--batch-size 16] [--duration 1.0] \
        [--generators audiogen audioldm2 musicgen stable_audio] [--steps 4]
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
from raysynth.generators import BACKENDS, build_generator, generation_recipe

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
    parser.add_argument("--generators", nargs="+", default=sorted(BACKENDS), choices=sorted(BACKENDS))
    parser.add_argument("--pipeline-generator", default="audiogen", choices=sorted(BACKENDS))
    parser.add_argument("--steps", type=int, default=4, help="diffusion steps of the tiny diffusion backends")
    args = parser.parse_args()

    print(f"1. batched vs one prompt per call: {args.clips} clips, batch {args.batch_size}, "
          f"{args.duration:g} s, tiny models, CPU, fp32")  # fmt: skip
    print(f"   {'backend':<14}{'naive clips/s':>15}{'batched clips/s':>17}{'ratio':>8}")
    for name in args.generators:
        naive, batched = naive_vs_batched(name, args)
        print(f"   {name:<14}{naive:>15.2f}{batched:>17.2f}{batched / naive:>7.2f}x")
    pipeline_vs_loop(args)


def tiny_config(name: str, args: argparse.Namespace) -> GenerationConfig:
    reads = BACKENDS[name].settings
    settings = {"steps": args.steps} if "steps" in reads else {"top_k": 50} if "top_k" in reads else {}
    return GenerationConfig(
        generator=name, tiny=True, duration_s=args.duration, batch_size=args.batch_size, num_gpus=0,
        concurrency=1, **settings,
    )  # fmt: skip


def naive_vs_batched(name: str, args: argparse.Namespace) -> tuple[float, float]:
    """Clips/s one prompt per call (the paper's pattern) and in batches, same model, same clips."""
    generator = build_generator(tiny_config(name, args))
    plan = plan_clips(
        "bench", CLASSES, generation_recipe(tiny_config(name, args)), "label", args.clips // 4, 0
    )
    generator.generate(["warm up"], [0], args.duration)
    start = time.perf_counter()
    for row in plan:
        generator.generate([row["prompt"]], [row["seed"]], args.duration)
    naive = clips_per_second(len(plan), time.perf_counter() - start)
    start = time.perf_counter()
    for chunk in chunk_plan(plan, args.batch_size, set()):
        generator.generate([r["prompt"] for r in chunk], [r["seed"] for r in chunk], args.duration)
    return naive, clips_per_second(len(plan), time.perf_counter() - start)


def pipeline_vs_loop(args: argparse.Namespace) -> None:
    """The same batched work in a plain loop (generate, encode, write) and through Ray Data."""
    config = tiny_config(args.pipeline_generator, args)
    with tempfile.TemporaryDirectory() as tmp:
        writer = ShardWriter(config.model_dump_json(), str(Path(tmp) / "loop"), 16000, {})
        generator = writer.generator
        plan = plan_clips("bench", CLASSES, generation_recipe(config), "label", args.clips // 4, 0)
        chunks = chunk_plan(plan, args.batch_size, set())
        generator.generate(["warm up"], [0], args.duration)

        # Plain loop over batches, with FLAC encoding and shard writing (what an actor does).
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

    print(
        f"2. {config.generator}, {len(plan)} clips: plain loop {loop_seconds:.2f} s ({batched:.2f} clips/s)"
    )
    print(
        f"   Ray Data pipeline:     {ray_seconds:8.2f} s   overhead {100 * (ray_seconds / loop_seconds - 1):+.0f}%"
    )
    print(f"   one-batch pipeline run (start-up): {startup_seconds:.2f} s; steady state {steady:.2f} s vs "
          f"{loop_rest:.2f} s in the loop: overhead {100 * (steady / loop_rest - 1):+.0f}%")  # fmt: skip


if __name__ == "__main__":
    main()
