"""The sweep: a Ray Tune grid over the spec's axes, with the data stages run first when missing.

All Ray Tune calls of the project live here, so that a Ray upgrade touches one room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysynth import storage
from raysynth.config import ExperimentSpec
from raysynth.datasets import manifest_path, prepare_dataset
from raysynth.generate.engine import GenerationSummary
from raysynth.generate.stage import (
    check_spec_generators,
    ensure_synthetic,
    ensure_synthetic_noise,
    missing_synthetic,
    noise_store_dir,
    plan_noise,
    store_dir,
    synthetic_sources,
)
from raysynth.generators import resolve_model_id
from raysynth.storage import Location
from raysynth.train import NaNLossError, TrialContext, run_trial


class MissingPrerequisites(RuntimeError):
    """``--no-generate`` was given but the sweep needs data that is not there."""


@dataclass
class SweepResult:
    experiment_dir: str
    num_trials: int
    num_errors: int
    generation: list[GenerationSummary]
    seconds: float


def param_space(spec: ExperimentSpec) -> dict[str, Any]:
    """Tune's param_space: list axes with several values become grid searches, the rest fixed values."""
    from ray import tune

    space: dict[str, Any] = {"dataset": spec.dataset.name, "backbone": spec.train.backbone}
    axes = {**spec.grid.axes(), "generator": spec.generators()}
    for axis, values in axes.items():
        space[axis] = tune.grid_search(values) if len(values) > 1 else values[0]
    return space


CHECKPOINT_FILE = "state.pt"


def _trainable(config: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable: resumes from the trial's last checkpoint, checkpoints every epoch."""
    import tempfile

    import torch
    from ray import tune

    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=False)

    def report(metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        if state is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state, Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    try:
        run_trial(config, context, report, resume)
    except NaNLossError as error:
        # The trial ends with its reason in the results; the rest of the sweep goes on.
        tune.report({"stopped_reason": f"NaN loss: {error}"})


@dataclass
class Inputs:
    manifest: Path
    noise_manifest: Path | None
    noise_shards: dict[str, Location] | None
    generation: list[GenerationSummary]
    embeddings: Path | None = None


def ensure_embeddings(spec: ExperimentSpec, inputs: Inputs, work_dir: Path, store: Location) -> Path:
    """The linear-probe embedding cache of this spec's backbone, filled by a Ray Data job."""
    from raysynth.train.embeddings import cache_dir, run_embedding_cache

    noise_key = f"{inputs.noise_manifest}|{spec.noise.test_snrs}" if inputs.noise_manifest else ""
    out_dir = cache_dir(work_dir, spec.dataset.name, spec.train, spec.dataset.clip_seconds, noise_key)
    shard_dirs = (
        [store_dir(spec, store, s, g) for g, s in synthetic_sources(spec)] if spec.needs_synthetic() else []
    )
    gpus = spec.resources.gpus_per_trial
    run_embedding_cache(
        inputs.manifest, shard_dirs, out_dir, spec.train, spec.dataset.sample_rate, spec.dataset.clip_seconds,
        spec.noise, inputs.noise_manifest, num_gpus=1.0 if gpus > 0 else 0.0,
    )  # fmt: skip
    return out_dir


def _noise_directory(spec: ExperimentSpec, data_root: Path | None) -> Path | None:
    if spec.noise.directory is None:
        return None
    directory = Path(spec.noise.directory).expanduser()
    if not directory.is_absolute():
        if data_root is None:
            raise MissingPrerequisites(
                f"noise.directory '{directory}' is relative, but there is no data root to resolve it against"
            )
        directory = data_root / directory
    if not directory.is_dir():
        raise MissingPrerequisites(f"noise.directory {directory} does not exist")
    return directory


def prepare_inputs(
    spec: ExperimentSpec,
    data_root: Path | None,
    work_dir: Path,
    no_generate: bool = False,
    shard_store: Location | None = None,
) -> Inputs:
    """Make sure the manifests and the shards the spec needs exist; build them unless ``no_generate``.

    Shards go to ``shard_store`` (a folder or ``s3://bucket/prefix``; default ``<work_dir>/synthetic``).
    """
    from raysynth.datasets import get_recipe
    from raysynth.datasets.base import corpora_root, prepare_report
    from raysynth.datasets.base import manifest_path as noise_manifest_path
    from raysynth.datasets.noise import noise_name
    from raysynth.generate.engine import existing_ids

    check_spec_generators(spec)
    store = shard_store or work_dir / "synthetic"
    data_root = corpora_root(get_recipe(spec.dataset.name), data_root, work_dir)
    manifest = manifest_path(work_dir, spec.dataset.name)
    if not no_generate:
        # First, as it also builds test-only corpora (their noise folders included).
        manifest = prepare_dataset(spec.dataset.name, data_root, work_dir, spec.dataset.sample_rate)
    noise_dir = _noise_directory(spec, data_root)
    synthetic_noise = "synthetic" in spec.grid.noise_source
    noise_manifest = noise_manifest_path(work_dir, noise_name(noise_dir)) if noise_dir else None
    if no_generate:
        missing = []
        if not manifest.is_file():
            missing.append(f"manifest {manifest} (run `python jobs/prepare.py {spec.dataset.name}`)")
        elif spec.needs_synthetic():
            for key, count in missing_synthetic(spec, manifest, store).items():
                generator, strategy = key.split("/")
                if count:
                    missing.append(
                        f"{count} synthetic clips in {store_dir(spec, store, strategy, generator)}"
                    )
        if noise_manifest is not None and not noise_manifest.is_file():
            missing.append(
                f"noise manifest {noise_manifest} (run `python jobs/prepare.py noise:{noise_dir}`)"
            )
        elif noise_manifest is not None and synthetic_noise:
            for generator in spec.generators():
                out_dir = noise_store_dir(store, noise_manifest, generator)
                done = existing_ids(out_dir)
                count = sum(row["id"] not in done for row in plan_noise(spec, noise_manifest, generator))
                if count:
                    missing.append(f"{count} synthetic noise clips in {out_dir}")
        if missing:
            raise MissingPrerequisites("--no-generate, but the sweep needs:\n  - " + "\n  - ".join(missing))
        noise_shards = _noise_shards(spec, store, noise_manifest) if synthetic_noise else None
        return Inputs(manifest, noise_manifest, noise_shards, [])
    generation = ensure_synthetic(spec, manifest, store)
    noise_shards = None
    if noise_dir is not None:
        noise_manifest = prepare_report(
            f"noise:{noise_dir}",
            None,
            work_dir,
            spec.dataset.sample_rate,
            test_files=spec.noise.test_files,
            segment_seconds=spec.noise.segment_seconds,
        ).manifest
        if synthetic_noise:
            generation.extend(ensure_synthetic_noise(spec, noise_manifest, store))
            noise_shards = _noise_shards(spec, store, noise_manifest)
    return Inputs(manifest, noise_manifest, noise_shards, generation)


def _noise_shards(
    spec: ExperimentSpec, store: Location, noise_manifest: Path | None
) -> dict[str, Location] | None:
    if noise_manifest is None:
        return None
    return {g: noise_store_dir(store, noise_manifest, g) for g in spec.generators()}


def write_inputs_record(experiment_dir: Location, spec: ExperimentSpec, context: TrialContext) -> None:
    """Record where the experiment's data lives, for the report's audio gallery."""
    import json

    from raysynth.report import INPUTS_FILE

    record = {"spec": spec.model_dump(mode="json"), "manifest": context.manifest, "shards": context.shards,
              "noise_manifest": context.noise_manifest}  # fmt: skip
    if storage.is_remote(experiment_dir) or Path(experiment_dir).is_dir():
        storage.write_text(storage.join(experiment_dir, INPUTS_FILE), json.dumps(record, indent=2))


def run_sweep(
    spec: ExperimentSpec,
    data_root: Path | None,
    work_dir: Path,
    storage_path: str,
    experiment_name: str | None = None,
    no_generate: bool = False,
    resume: bool = False,
    shard_store: Location | None = None,
) -> SweepResult:
    """Prepare inputs, then run every trial of the grid with Ray Tune.

    Args:
        spec: the experiment.
        data_root: corpora root (``None`` is fine for test-only datasets).
        work_dir: manifests and shards.
        storage_path: Tune's storage (local path or ``s3://``).
        experiment_name: the experiment folder under ``storage_path``; default ``<spec.name>-<time>``.
        no_generate: fail with a list of what is missing instead of preparing or generating it.
        resume: restore the interrupted experiment ``experiment_name`` with ``Tuner.restore``:
            finished trials are kept, unfinished and errored ones continue from their checkpoints.
        shard_store: where synthetic shards live (a folder or ``s3://``); default ``<work_dir>/synthetic``.
    """
    from ray import tune

    start = time.perf_counter()
    store = shard_store or work_dir / "synthetic"
    inputs = prepare_inputs(spec, data_root, work_dir, no_generate, store)
    if spec.train.mode == "linear_probe":
        inputs.embeddings = ensure_embeddings(spec, inputs, work_dir, store)
    context = TrialContext(
        manifest=str(inputs.manifest),
        shards={f"{g}/{s}": str(store_dir(spec, store, s, g)) for g, s in synthetic_sources(spec)},
        model_ids={g: resolve_model_id(spec.generation.for_generator(g)) for g in spec.generators()},
        sample_rate=spec.dataset.sample_rate,
        clip_seconds=spec.dataset.clip_seconds,
        train=spec.train,
        noise=spec.noise,
        noise_manifest=str(inputs.noise_manifest) if inputs.noise_manifest else None,
        noise_shards={g: str(p) for g, p in inputs.noise_shards.items()} if inputs.noise_shards else None,
        embeddings=str(inputs.embeddings) if inputs.embeddings else None,
    )
    resources = {"cpu": spec.resources.cpus_per_trial, "gpu": spec.resources.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(_trainable, context=context), resources)
    name = experiment_name or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = f"{storage_path.rstrip('/')}/{name}"
    if resume:
        if not experiment_name:
            raise MissingPrerequisites("--resume needs --name: the experiment folder to restore")
        if not tune.Tuner.can_restore(path):
            raise MissingPrerequisites(f"--resume: no experiment to restore at {path}")
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True)
        return _finish(tuner.fit(), path, spec, context, inputs, start)
    tuner = tune.Tuner(
        trainable,
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(max_concurrent_trials=spec.resources.max_concurrent_trials),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=spec.resources.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=1,
        ),
    )
    return _finish(tuner.fit(), path, spec, context, inputs, start)


def _finish(
    results, path: str, spec: ExperimentSpec, context: TrialContext, inputs: Inputs, start: float
) -> SweepResult:
    # ``path`` (storage path / name) keeps its scheme (s3://...), which Tune's experiment_path drops.
    write_inputs_record(path, spec, context)
    return SweepResult(
        experiment_dir=path,
        num_trials=len(results),
        num_errors=results.num_errors,
        generation=inputs.generation,
        seconds=time.perf_counter() - start,
    )
