"""Quality-scoring throughput on CPU, measured side by side in one run: the tiny CLAP scorer and the
teacher, each through the Ray Data scoring pass with 1 and with 2 actors.

The clips are toy clips of 1 s (16 kHz) in the synthetic shard schema; the teacher is trained on a
toy real training split first (not timed). Each pass starts its actors cold, so a one-batch pass is
timed too and reported beside them (the actor start-up), as bench/generation.py does.

    uv run python bench/quality.py [--clips 2000] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from raysynth.cli import init_ray
from raysynth.quality.scoring import ScoreJob, run_scoring
from raysynth.quality.teacher import TeacherPlan, train_teacher
from raysynth.testing import TOY_LABELS, dummy_manifest, dummy_shard


def timed(job: ScoreJob, concurrency: int, batch_size: int) -> tuple[int, float]:
    start = time.perf_counter()
    count = run_scoring(job, concurrency, batch_size)
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    per_class = args.clips // len(TOY_LABELS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = dummy_manifest(root / "m.parquet", per_split={"train": 20, "valid": 2, "test": 2})
        teacher = TeacherPlan(
            str(root / "teacher.pt"), str(manifest), None, 16000, 1.0, 40, 10, batch_size=16
        )
        train_teacher(teacher)
        dummy_shard(root / "shards" / "part-0.parquet", clips_per_class=per_class)
        dummy_shard(root / "one" / "part-0.parquet", clips_per_class=args.batch_size // len(TOY_LABELS))
        init_ray(2)
        prompts = tuple(f"{label} sound" for label in TOY_LABELS)
        print(
            f"scoring {per_class * len(TOY_LABELS)} clips of 1 s at 16 kHz, batch {args.batch_size}, 2 CPUs"
        )
        for kind in ("clap", "teacher"):
            for concurrency in (1, 2):
                common = dict(recipe="dummy", sample_rate=16000, num_samples=16000, teacher=teacher.path,
                              prompts=prompts, tiny=True)  # fmt: skip
                one = ScoreJob(
                    kind, shards=str(root / "one"), folder=str(root / f"s1-{kind}-{concurrency}"), **common
                )
                job = ScoreJob(
                    kind, shards=str(root / "shards"), folder=str(root / f"s-{kind}-{concurrency}"), **common
                )
                small, startup = timed(one, concurrency, args.batch_size)
                count, seconds = timed(job, concurrency, args.batch_size)
                # Steady state: the extra clips over the extra time of the full pass (both cold).
                steady = f"{(count - small) / (seconds - startup):7.1f}" if seconds > startup else "    n/a"
                print(f"  {kind:8s} {concurrency} actor(s): {count / seconds:7.1f} clips/s from cold "
                      f"({seconds:5.1f} s; a one-batch pass {startup:4.1f} s), steady ~{steady} clips/s",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
