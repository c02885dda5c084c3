"""Experiment tracking: every trial of a sweep as an MLflow run, through Ray Tune's own MLflow
integration (``ray.air.integrations.mlflow.MLflowLoggerCallback``), when the spec says
``tracking: mlflow``.

Each trial's run has its axis values as params (``real_fraction``, ``generator``, ...), every epoch's
numeric metrics at their epoch as step (per-class values as ``<metric>/<class>``), the recipe hashes
of what it trained on as tags (``spec_hash``, ``manifest``, ``recipe/<generator>/<strategy>``), and
its own result files as artifacts (``params.json``, ``result.json``, ``progress.csv``; never its
checkpoints). The store is ``tracking_uri``, or by default a local SQLite file under the work dir
(``sqlite:///<work_dir>/mlflow.db``, artifacts beside it in ``mlartifacts/``): it needs no server and
no network. MLflow's plain-folder store is in maintenance mode and refused by MLflow 3 unless an
environment variable opts in, so the default is SQLite (through SQLAlchemy, which Optuna already
brings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback

from raysynth.generators import engines_of

TRIAL_FILES = ("params.json", "result.json", "progress.csv")


def default_uri(work_dir: Path) -> str:
    return f"sqlite:///{Path(work_dir).resolve() / 'mlflow.db'}"


def trial_tags(r, cell: dict[str, Any]) -> dict[str, str]:
    """What a trial of ``cell`` trained on, by hash: the spec, the real manifest and each synthetic recipe."""
    tags = {
        "spec_hash": r.spec_hash,
        "manifest": str(r.manifest.path).rstrip("/").split("/")[-2],
        "dataset": r.dataset,
    }
    engines = set(engines_of(cell["generator"])) if cell.get("generator") else set()
    for job in r.generation:
        if (
            job.generator in engines
            and job.strategy == cell.get("strategy")
            and job.variant == cell.get("variant")
        ):
            tags[f"recipe/{job.generator}/{job.strategy}" + (f"/{job.variant}" if job.variant else "")] = (
                job.recipe_hash
            )
    return tags


class TrialRuns(MLflowLoggerCallback):
    """Tune's MLflow logger with a run per trial named by its axes, tagged with its recipes."""

    def __init__(self, r, uri: str, experiment: str, cells: list[dict], trial_config) -> None:
        super().__init__(tracking_uri=uri, experiment_name=experiment, save_artifact=False)
        self.r, self.cells, self.trial_config = r, cells, trial_config
        # Artifacts under the work dir, not the cwd (on an object store, MLflow writes them there itself).
        work = str(r.work_dir)
        self.artifact_root = (
            f"{work}/mlartifacts" if "://" in work else (Path(work).resolve() / "mlartifacts").as_uri()
        )

    def setup(self, *args, **kwargs) -> None:
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        if mlflow.get_experiment_by_name(self.experiment_name) is None:
            mlflow.create_experiment(self.experiment_name, artifact_location=self.artifact_root)
        super().setup(*args, **kwargs)

    def log_trial_start(self, trial) -> None:
        if trial not in self._trial_runs:
            axes = self.trial_config(trial.config, self.cells)
            tags = {**self.tags, "trial_name": str(trial), **trial_tags(self.r, axes)}
            run = self.mlflow_util.start_run(tags=tags, run_name=str(trial))
            self._trial_runs[trial] = run.info.run_id
            self.mlflow_util.log_params(run_id=self._trial_runs[trial],
                                        params_to_log={k: json.dumps(v) if isinstance(v, list) else v
                                                       for k, v in axes.items()})  # fmt: skip

    def log_trial_end(self, trial, failed: bool = False) -> None:
        run_id = self._trial_runs[trial]
        client = self.mlflow_util._get_client()
        for name in TRIAL_FILES:
            path = Path(trial.local_path) / name
            if path.is_file():
                client.log_artifact(run_id, str(path))
        self.mlflow_util.end_run(run_id=run_id, status="FAILED" if failed else "FINISHED")
