"""The sweep: a Ray Tune grid over the spec's axes, with the data stages run first when missing.

All Ray Tune calls of the project live here, so that a Ray upgrade touches one room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysynth.config import ExperimentSpec
from raysynth.datasets import manifest_path, prepare_dataset
from raysynth.generate.engine import GenerationSummary
from raysynth.generate.stage import ensure_synthetic, missing_synthetic, store_dir
from raysynth.generators import check_generator_name, resolve_model_id
from raysynth.train import TrialContext, run_trial


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

    space: dict[str, Any] = {
        "dataset": spec.dataset.name,
        "generator": spec.generation.generator,
        "backbone": spec.train.backbone,
    }
    for axis, values in spec.grid.axes().items():
        space[axis] = tune.grid_search(values) if len(values) > 1 else values[0]
    return space


def _trainable(config: dict[str, Any], context: TrialContext) -> None:
    from ray import tune

    run_trial(config, context, tune.report)


def prepare_inputs(
    spec: ExperimentSpec, data_root: Path | None, work_dir: Path, no_generate: bool = False
) -> tuple[Path, list[GenerationSummary]]:
    """Make sure the manifest and the shards the spec needs exist; build them unless ``no_generate``."""
    check_generator_name(spec.generation.generator)
    store = work_dir / "synthetic"
    if no_generate:
        missing = []
        manifest = manifest_path(work_dir, spec.dataset.name)
        if not manifest.is_file():
            missing.append(f"manifest {manifest} (run `python jobs/prepare.py {spec.dataset.name}`)")
        elif spec.needs_synthetic():
            for strategy, count in missing_synthetic(spec, manifest, store).items():
                if count:
                    missing.append(f"{count} synthetic clips in {store_dir(spec, store, strategy)}")
        if missing:
            raise MissingPrerequisites("--no-generate, but the sweep needs:\n  - " + "\n  - ".join(missing))
        return manifest, []
    manifest = prepare_dataset(spec.dataset.name, data_root, work_dir, spec.dataset.sample_rate)
    return manifest, ensure_synthetic(spec, manifest, store)


def run_sweep(
    spec: ExperimentSpec,
    data_root: Path | None,
    work_dir: Path,
    storage_path: str,
    experiment_name: str | None = None,
    no_generate: bool = False,
) -> SweepResult:
    """Prepare inputs, then run every trial of the grid with Ray Tune.

    Args:
        spec: the experiment.
        data_root: corpora root (``None`` is fine for test-only datasets).
        work_dir: manifests and shards.
        storage_path: Tune's storage (local path or ``s3://``).
        experiment_name: the experiment folder under ``storage_path``; default ``<spec.name>-<time>``.
        no_generate: fail with a list of what is missing instead of preparing or generating it.
    """
    from ray import tune

    start = time.perf_counter()
    manifest, generation = prepare_inputs(spec, data_root, work_dir, no_generate)
    context = TrialContext(
        manifest=str(manifest),
        shards={s: str(store_dir(spec, work_dir / "synthetic", s)) for s in spec.grid.strategy},
        model_id=resolve_model_id(spec.generation),
        sample_rate=spec.dataset.sample_rate,
        clip_seconds=spec.dataset.clip_seconds,
        train=spec.train,
    )
    resources = {"cpu": spec.resources.cpus_per_trial, "gpu": spec.resources.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(_trainable, context=context), resources)
    name = experiment_name or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    tuner = tune.Tuner(
        trainable,
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(max_concurrent_trials=spec.resources.max_concurrent_trials),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=0),
            verbose=1,
        ),
    )
    results = tuner.fit()
    return SweepResult(
        experiment_dir=results.experiment_path,
        num_trials=len(results),
        num_errors=results.num_errors,
        generation=generation,
        seconds=time.perf_counter() - start,
    )
