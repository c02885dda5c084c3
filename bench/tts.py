"""Speech generation throughput on CPU, every speech engine, measured side by side in one run.

For each engine (eSpeak NG ``tts``, Piper ``piper``, CMU Flite ``flite``, Kokoro-82M ``kokoro``):

1. A plain loop in one process: generate, resample to the dataset rate, encode FLAC, write shards
   (exactly what a generation actor does, without Ray).
2. The same plan through the Ray Data engine with one actor per CPU (``generation.num_gpus: 0``),
   from cold (actor start-up and model load included), and in the steady state: a one-batch run
   on fresh actors is the start-up, subtracted (as bench/generation.py does).

    uv run python bench/tts.py [--engines tts,piper,flite,kokoro] [--clips N] [--cpus 2]

``--clips`` scales every engine's default count (tts and flite 2,000, piper 1,000, kokoro 160: about
the same minute each on 2 cores). flite needs Debian's flite program; without it its row says so.
"""

from __future__ import annotations

import argparse
import shutil
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
DEFAULT_CLIPS = {"tts": 2000, "piper": 1000, "flite": 2000, "kokoro": 160}
BATCH = {"tts": 64, "piper": 32, "flite": 64, "kokoro": 8}


def bench_engine(engine: str, clips: int, sample_rate: int, cpus: int, folder: Path) -> str:
    extra = {"model_cache": str(folder / "models")} if engine == "kokoro" else {}
    config = GenerationConfig(generator=engine, duration_s=1.0, batch_size=BATCH[engine], **extra)
    plan = plan_clips("bench", CLASSES, generation_recipe(config), "label", max(1, clips // 10), 0,
                      template="{label}")  # fmt: skip
    start = time.perf_counter()
    writer = ShardWriter(config.model_dump_json(), str(folder / engine / "loop"), sample_rate, {})
    load = time.perf_counter() - start
    start = time.perf_counter()
    for chunk in chunk_plan(plan, config.batch_size, set()):
        waves = writer.generator.generate([r["prompt"] for r in chunk], [r["seed"] for r in chunk], 1.0)
        writer.write(*writer.guard(chunk, waves)[:2], 0.0)
    loop = time.perf_counter() - start
    start = time.perf_counter()
    run_generation(plan[: config.batch_size * cpus], folder / engine / "startup", config, sample_rate)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    summary = run_generation(plan, folder / engine / "ray", config, sample_rate)
    cold = time.perf_counter() - start
    assert summary.written == len(plan), summary
    one_batch = startup  # start-up plus one batch per actor: what the steady state does not pay again
    steady = max(cold - one_batch, 1e-9)
    rest = len(plan) - min(len(plan), config.batch_size * cpus)
    return (
        f"{engine:7s} {len(plan):5d} clips | loop {len(plan) / loop:7.1f} clips/s (model load {load:4.1f} s) | "
        f"Ray Data {cpus} actors: cold {len(plan) / cold:7.1f} clips/s ({len(plan) / cold / (len(plan) / loop):.2f}x "
        f"the loop), steady {rest / steady:7.1f} clips/s ({rest / steady / (len(plan) / loop):.2f}x) | "
        f"cut {summary.cut}, sped up {summary.sped_up}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="tts,piper,flite,kokoro")
    parser.add_argument("--clips", type=float, default=1.0, help="a factor of each engine's default count")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    init_ray(args.cpus)
    print(f"speech engines, clips of 1 s at {args.sample_rate} Hz, {args.cpus} CPUs; one-word digits")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            if engine == "flite" and shutil.which("flite") is None:
                print(f"{engine:7s} skipped: flite is not installed (apt-get install flite)")
                continue
            clips = int(DEFAULT_CLIPS[engine] * args.clips)
            print(bench_engine(engine, clips, args.sample_rate, args.cpus, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
