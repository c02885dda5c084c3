"""Generation: the plan of clips (content-addressed by recipe) and the Ray Data engine that writes shards.

This room knows no experiment spec: it receives plans, a folder and a generation config.
"""

from raysynth.generate.engine import (
    GenerationFailed,
    GenerationSummary,
    existing_ids,
    run_generation,
    shard_files,
)
from raysynth.generate.plan import ClassInfo, PlanError, clip_id, plan_clips, recipe_hash, shard_dir

__all__ = [
    "ClassInfo",
    "GenerationFailed",
    "GenerationSummary",
    "PlanError",
    "clip_id",
    "existing_ids",
    "plan_clips",
    "recipe_hash",
    "run_generation",
    "shard_dir",
    "shard_files",
]
