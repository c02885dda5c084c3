"""Generation as a Ray Data pipeline: plan chunks -> generator actors -> Parquet shards.

Each input row is one batch (a chunk of the plan). An actor (:mod:`.writer`) loads its generator once, turns a
chunk into audio, resamples it to the dataset's rate, encodes FLAC and writes one shard through
an atomic rename, so a shard is visible only when complete. Only a small summary row travels
back to the driver. Resume reads the ids already on disk and drops them from the plan.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib import metadata

from raysynth import storage
from raysynth.config import GenerationConfig
from raysynth.console import Progress
from raysynth.generate.faults import GenerationFailed, clip_problem
from raysynth.generate.writer import ShardWriter
from raysynth.schemas import SYNTH_SHARD_SCHEMA, check_schema, class_names_of
from raysynth.storage import SHARD_GLOB, Location

__all__ = ["SHARD_GLOB", "ShardWriter", "clip_problem"]

RECIPE_FILE = "recipe.json"


@dataclass
class GenerationSummary:
    planned: int
    skipped: int
    written: int = 0
    rejected: int = 0
    cut: int = 0  # speech clips stored with their words cut at the end (params cut_s > 0)
    sped_up: int = 0  # speech clips said faster so that their words fit
    seconds: float = 0.0
    shards: list[str] = field(default_factory=list)

    @property
    def clips_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"generation: planned {self.planned}, skipped {self.skipped} (already written), "
            f"wrote {self.written} in {len(self.shards)} shard(s), rejected {self.rejected} (NaN, silent or "
            f"clipped after regeneration{', or speech too long' if self.cut or self.sped_up else ''}), "
            + (
                f"speech cut in {self.cut} and said faster in {self.sped_up}, "
                if self.cut or self.sped_up
                else ""
            )
            + f"{self.seconds:.1f}s "
            f"({self.clips_per_second:.2f} clips/s)"
        )


def shard_files(out_dir: Location) -> list[str]:
    """The complete shards in ``out_dir`` (a folder or an s3:// prefix), sorted."""
    return storage.list_files(out_dir, SHARD_GLOB)


def existing_ids(out_dir: Location) -> set[str]:
    """The ids of every clip in the complete shards under ``out_dir``."""
    files = shard_files(out_dir)
    for path in files:
        check_schema(storage.read_schema(path), SYNTH_SHARD_SCHEMA, path)
    if not files:
        return set()
    return set(storage.dataset(files).to_table(columns=["id"]).column("id").to_pylist())


def chunk_plan(plan: list[dict], batch_size: int, done: set[str]) -> list[list[dict]]:
    """Cut the full plan into batches, then drop the clips already done.

    Chunking before dropping keeps batch boundaries, and so batch seeds, identical across resumes.
    """
    chunks = [plan[i : i + batch_size] for i in range(0, len(plan), batch_size)]
    chunks = [[row for row in chunk if row["id"] not in done] for chunk in chunks]
    return [chunk for chunk in chunks if chunk]


def package_versions() -> dict[str, str]:
    versions = {}
    for name in (
        "raysynth",
        "torch",
        "torchaudio",
        "audiocraft",
        "diffusers",
        "transformers",
        "ray",
        "numpy",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _actor_count(config: GenerationConfig) -> int:
    """Actors: ``concurrency``; else one per GPU (``num_gpus`` each), or one per CPU for CPU backends."""
    import ray

    if config.concurrency is not None:
        return config.concurrency
    resources = ray.cluster_resources()
    if config.num_gpus > 0:
        gpus = int(resources.get("GPU", 0))
        if gpus == 0:
            raise RuntimeError(
                f"generation.num_gpus is {config.num_gpus} but the Ray cluster has no GPU; "
                f"set generation.num_gpus: 0 to generate on CPU"
            )
        return max(1, int(gpus / config.num_gpus))
    return max(1, int(resources.get("CPU", 1)))


def run_generation(
    plan: list[dict],
    out_dir: Location,
    config: GenerationConfig,
    sample_rate: int,
    recipe: dict | None = None,
    spec_hash: str = "",
) -> GenerationSummary:
    """Generate every clip of ``plan`` not yet in ``out_dir``, through Ray Data.

    Args:
        plan: rows from :func:`raysynth.generate.plan.plan_clips`.
        out_dir: the shard folder of the plan's recipe, local or on an object store (``s3://bucket/prefix``).
        config: generation parameters (backend, batch size, GPUs per actor, ...).
        sample_rate: the dataset's rate; audio is resampled to it before encoding.
        recipe: the recipe the plan's ids hash (recorded in ``recipe.json`` and in each shard's provenance).
        spec_hash: the experiment spec's hash, stored as provenance.
    """
    import ray

    from raysynth.generators import BACKENDS, check_generation

    config = check_generation(config)  # bad settings fail here, before any actor or GPU
    storage.remove_stale_temporaries(out_dir)
    done = existing_ids(out_dir)
    chunks = chunk_plan(plan, config.batch_size, done)
    summary = GenerationSummary(planned=len(plan), skipped=sum(row["id"] in done for row in plan))
    if not chunks:
        return summary
    storage.check_writable(out_dir)  # before any actor loads a model
    provenance = {
        "packages": package_versions(),
        "recipe": recipe or {},
        "generation": config.model_dump(mode="json"),
        # The licences of the engine and of the model or voices the clips come from.
        "licences": {
            **BACKENDS[config.generator].licences,
            **({"voice": "random weights built in code (tiny): no model licence"} if config.tiny else {}),
        },
        "spec_hash": spec_hash,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if recipe is not None:
        storage.write_text(storage.join(out_dir, RECIPE_FILE), json.dumps(recipe, indent=2, sort_keys=True))
    start = time.perf_counter()
    items = [{"chunk": json.dumps(chunk)} for chunk in chunks]
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ShardWriter,
        fn_constructor_kwargs={
            "config_json": config.model_dump_json(),
            "out_dir": str(out_dir),
            "sample_rate": sample_rate,
            "provenance": provenance,
            "class_names": class_names_of((row["label_id"], row["label"]) for row in plan),
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=_actor_count(config)),
        num_gpus=config.num_gpus,
        num_cpus=1,
        # Backends with conflicting pins can run in an environment of their own.
        **({"runtime_env": config.runtime_env} if config.runtime_env else {}),
    )
    todo = summary.planned - summary.skipped
    from ray.data.exceptions import UserCodeException
    from ray.exceptions import RayError

    with Progress(f"generate {config.generator}", todo, "clips") as bar:
        try:
            for row in dataset.iter_rows():
                summary.written += int(row["clips"])
                summary.rejected += int(row["rejected"])
                summary.cut += int(row["cut"])
                summary.sped_up += int(row["sped_up"])
                if row["shard"]:
                    summary.shards.append(str(row["shard"]))
                bar.update(int(row["clips"]) + int(row["rejected"]))
        except (RayError, UserCodeException) as error:
            raise GenerationFailed(out_dir, summary, error) from error
    summary.seconds = time.perf_counter() - start
    return summary
