"""Generation engine: plan, Ray Data execution, resumable Parquet shards."""

from raysynth.generate.engine import GenerationSummary, existing_ids, run_generation, shard_files
from raysynth.generate.plan import ClassInfo, clip_id, plan_clips, shard_dir

__all__ = [
    "ClassInfo",
    "GenerationSummary",
    "clip_id",
    "existing_ids",
    "plan_clips",
    "run_generation",
    "shard_dir",
    "shard_files",
]
