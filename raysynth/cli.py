"""Shared plumbing for the ``jobs/`` entry points: Ray start-up and clear exits on bad input."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SMOKE_SPEC = REPO_ROOT / "search_spaces" / "smoke.yaml"
EXIT_BAD_INPUT = 2


def init_ray(num_cpus: int | None = None) -> None:
    """Connect to the cluster of ``ray job submit`` / ``$RAY_ADDRESS``, or start a local Ray.

    Local workers use this interpreter (the project's environment); Ray's ``uv run`` hook, which
    would repackage the working directory for every worker, is turned off for local runs.
    """
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    # Trials checkpoint every epoch on purpose (resume loses at most one epoch).
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray

    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)


def run_main(main: Callable[[], int | None]) -> None:
    """Run ``main`` and turn the project's input errors into one clear message and exit code 2."""
    from raysynth.config import SpecError
    from raysynth.datasets import DatasetError
    from raysynth.generate.plan import PlanError
    from raysynth.generators import GeneratorError
    from raysynth.prompts.llm import DescriptionError
    from raysynth.report import ReportError
    from raysynth.storage import StorageError
    from raysynth.sweep import MissingPrerequisites

    expected = (
        SpecError,
        DatasetError,
        GeneratorError,
        DescriptionError,
        PlanError,
        ReportError,
        MissingPrerequisites,
        StorageError,
        KeyError,
    )
    try:
        sys.exit(main() or 0)
    except expected as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
