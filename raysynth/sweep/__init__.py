"""The sweep: the experiment's trials as a Ray Tune run, with resume and a summary.

This room is Tune only (all of the project's Tune calls live here, so a Ray upgrade touches one
room). Its inputs come resolved and built from :mod:`raysynth.inputs`: the trial cells, the
:class:`~raysynth.train.TrialContext` and the resources.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysynth import console, storage
from raysynth.generate import GenerationSummary
from raysynth.generate.faults import trial_chaos
from raysynth.inputs import Inputs, Resolved
from raysynth.report import INPUTS_FILE
from raysynth.sweep.lines import TrialLines
from raysynth.sweep.target import check_target
from raysynth.train import NaNLossError, TrialContext, run_trial

CHECKPOINT_FILE = "state.pt"
EARLY_STOP_FILE = "early_stopped.json"


class SweepError(RuntimeError):
    """A sweep that cannot start or resume as asked (for example ``--resume`` with nothing to restore)."""


@dataclass
class SweepResult:
    experiment_dir: str
    num_trials: int
    num_errors: int
    generation: list[GenerationSummary]
    seconds: float


VALID_METRIC = "valid_acc"  # what searches and schedulers optimise: validation, never test


def fixed_params(r: Resolved) -> dict[str, Any]:
    """The values every trial has beside its cell's axes (a cell's own value of one wins)."""
    # The reverb probability of train.reverb (0: none), so every record has the axis; a grid.reverb cell's wins.
    return {
        "dataset": r.dataset,
        "backbone": r.train.backbone,
        "reverb": r.train.reverb.probability if r.train.reverb else 0.0,
        "round": 1,  # a grid.round cell's wins (round 2: raysynth.sweep.rounds)
    }


def param_space(r: Resolved) -> dict[str, Any]:
    """Tune's param_space: one grid axis over the experiment's distinct trial cells, plus its fixed
    values; for a search, a choice of cell (by index) and the ranges it samples."""
    from ray import tune

    fixed = fixed_params(r)
    search = r.spec.get("search", {})
    if search.get("algorithm", "grid") == "grid":
        return {"cell": tune.grid_search(list(r.cells)), **fixed}
    space: dict[str, Any] = {"cell_index": tune.choice(list(range(len(r.cells)))), **fixed}
    if search.get("real_fraction_range"):
        space["real_fraction"] = tune.loguniform(*search["real_fraction_range"])
    return space


def trial_config(config: dict[str, Any], cells: list[dict] | None = None) -> dict[str, Any]:
    """A Tune config as the trial reads it: the cell's axis values beside the fixed ones (a search's
    sampled values win over its cell's)."""
    cell = config.get("cell") or (cells[config["cell_index"]] if "cell_index" in config else {})
    sampled = {k: v for k, v in config.items() if k not in ("cell", "cell_index")}
    return {**cell, **sampled} if "cell_index" in config else {**sampled, **cell}


def planned_trials(r: Resolved) -> int:
    search = r.spec.get("search", {})
    return len(r.cells) if search.get("algorithm", "grid") == "grid" else int(search["num_samples"])


def tune_options(r: Resolved) -> dict[str, Any]:
    """``search_alg``, ``scheduler`` and ``num_samples`` for ``tune.TuneConfig`` from the spec's search."""
    from ray import tune

    search = r.spec.get("search", {})
    options: dict[str, Any] = {}
    if search.get("algorithm", "grid") != "grid":
        options["num_samples"] = int(search["num_samples"])
    if search.get("algorithm") == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        options["search_alg"] = OptunaSearch(metric=VALID_METRIC, mode="max", seed=r.generation_seed)
    if search.get("scheduler") == "asha":
        options["scheduler"] = tune.schedulers.ASHAScheduler(
            metric=VALID_METRIC, mode="max", time_attr="epoch", max_t=int(r.spec["train"]["epochs"]),
            grace_period=int(search["grace_period"]), reduction_factor=float(search["reduction_factor"]),
        )  # fmt: skip
    return options


def load_trial_state(path: Path) -> dict[str, Any]:
    """A trial's checkpointed state, read as tensors and plain data only (never code)."""
    return storage.load_checkpoint(path, "trial checkpoint")


def _trainable(config: dict[str, Any], context: TrialContext, cells: list[dict] | None = None) -> None:
    """The Tune function trainable: resumes from the trial's last checkpoint, checkpoints every epoch."""
    import torch
    from ray import tune

    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = load_trial_state(Path(folder) / CHECKPOINT_FILE)

    def report(metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        if state is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state, Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    trial = trial_config(config, cells)
    trial_chaos(trial)
    try:
        run_trial(trial, context, report, resume)
    except NaNLossError as error:
        # The trial ends with its reason in the results; the rest of the sweep goes on.
        tune.report({"stopped_reason": f"NaN loss: {error}"})


def early_stop_marker_class():
    from ray.tune import Callback

    class EarlyStopMarker(Callback):
        """Marks a trial that a scheduler ended before its last epoch (``early_stopped.json`` in
        its folder), so the report counts it as stopped early, not as unfinished."""

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            last = trial.last_result or {}
            planned, epoch = last.get("epochs_planned"), last.get("epoch")
            if (
                planned is not None
                and epoch is not None
                and epoch < planned
                and not last.get("stopped_reason")
            ):
                marker = {"epoch": epoch, "epochs_planned": planned, "by": "asha, on validation accuracy"}
                storage.write_text(storage.join(trial.path, EARLY_STOP_FILE), json.dumps(marker))

    return EarlyStopMarker


def EarlyStopMarker():  # noqa: N802 (a factory, so importing this room does not import Tune)
    return early_stop_marker_class()()


def write_inputs_record(experiment_dir: str, r: Resolved, context: TrialContext) -> None:
    """Record the experiment's spec, its planned trials and where its data lives, beside the results."""
    record = {
        "spec": r.spec,
        "cells": list(r.cells),
        "manifest": context.manifest,
        "noise_manifest": context.noise_manifest,
        "synthetic": [s.__dict__ for s in context.synthetic],
        "draw_per_seed": r.draw_per_seed,
    }
    if storage.is_remote(experiment_dir) or Path(experiment_dir).is_dir():
        storage.write_text(
            storage.join(experiment_dir, INPUTS_FILE), json.dumps(record, indent=2, default=str)
        )


@contextlib.contextmanager
def _graceful_sigint():
    """Ctrl-C during the trials: Tune saves the experiment state and stops (through SIGUSR1, the
    signal Tune always listens to); a second Ctrl-C stops at once. Yields the event that says so."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(sig, frame) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        print("\nstopping: saving the experiment state (Ctrl-C again to stop at once)", file=sys.stderr)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
        if previous_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_env


def default_name(r: Resolved) -> str:
    """An experiment's folder name when ``--name`` is not given: ``<spec name>-<time>``."""
    return f"{r.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def tracking_callbacks(r: Resolved, name: str) -> list:
    """Tune's MLflow logger where the spec says ``tracking: mlflow`` (one run per trial)."""
    if r.spec.get("tracking", "none") != "mlflow":
        return []
    from raysynth.sweep.tracking import TrialRuns, default_uri

    uri = r.spec.get("tracking_uri") or default_uri(r.work_dir)
    return [TrialRuns(r, uri, name, list(r.cells), trial_config)]


def run_sweep(
    r: Resolved,
    inputs: Inputs,
    context: TrialContext,
    storage_path: str,
    experiment_name: str | None = None,
    resume: bool = False,
) -> SweepResult:
    """Run every trial cell of ``r`` with Ray Tune.

    Args:
        r: the resolved experiment (its cells and resources).
        inputs: what the input stages made (their summaries are passed on).
        context: what every trial shares.
        storage_path: Tune's storage (local path or ``s3://``).
        experiment_name: the experiment folder under ``storage_path``; default ``<spec name>-<time>``.
        resume: restore the interrupted experiment ``experiment_name`` with ``Tuner.restore``:
            finished trials are kept, unfinished and errored ones continue from their checkpoints.
    """
    from ray import tune

    start = time.perf_counter()
    resources = {"cpu": r.resources.cpus_per_trial, "gpu": r.resources.gpus_per_trial}
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, context=context, cells=list(r.cells)), resources
    )
    name = experiment_name or default_name(r)
    path = f"{storage_path.rstrip('/')}/{name}"
    check_target(path, name, r.spec, resume, experiment_name is not None)
    if resume:
        if not experiment_name:
            raise SweepError("--resume needs --name: the experiment folder to restore")
        if not tune.Tuner.can_restore(path):
            raise SweepError(f"--resume: no experiment to restore at {path}")
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space(r),
            tune_config=tune.TuneConfig(
                max_concurrent_trials=r.resources.max_concurrent_trials, reuse_actors=True, **tune_options(r)
            ),
            run_config=tune.RunConfig(
                callbacks=[
                    *([EarlyStopMarker()] if r.spec.get("search", {}).get("scheduler") == "asha" else []),
                    TrialLines(list(r.cells), planned_trials(r), trial_config),
                    *tracking_callbacks(r, name),
                ],
                name=name,
                storage_path=storage_path,
                failure_config=tune.FailureConfig(max_failures=r.resources.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=1 if console.verbose() else 0,
            ),
        )
    if not resume:  # the spec is on record from the start: a resume after a kill is checked against it
        if not storage.is_remote(path):
            Path(path).mkdir(parents=True, exist_ok=True)
        write_inputs_record(path, r, context)
    with _graceful_sigint() as interrupted:
        results = tuner.fit()
    if interrupted.is_set():
        write_inputs_record(path, r, context)
        raise console.Interrupted(
            f"finished trials and the others' last checkpoints are kept in {path}; "
            f"go on with: {console.resume_command(name)}"
        )
    # ``path`` (storage path / name) keeps its scheme (s3://...), which Tune's experiment_path drops.
    write_inputs_record(path, r, context)
    return SweepResult(path, len(results), results.num_errors, inputs.generation, time.perf_counter() - start)
