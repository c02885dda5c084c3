"""Shared plumbing for the ``jobs/`` entry points: Ray start-up, the smoke preset, and clear exits on bad input."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from raysynth import console

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


_started_ray = False  # init_ray started (or connected) Ray in this process: shutdown_ray stops it


def shutdown_ray() -> None:
    """Stop the local Ray that init_ray started (its GCS, raylet, agents and workers) before exit;
    a Ray that was already running when init_ray was called (a notebook's, a test session's) stays."""
    global _started_ray
    if _started_ray and "ray" in sys.modules:
        _started_ray = False
        import ray

        if ray.is_initialized():
            ray.shutdown()


def smoke_spec() -> Path:
    """The ``--smoke-test`` preset, shipped inside the package (``raysynth/presets/smoke.yaml``)."""
    return Path(str(resources.files("raysynth.presets") / "smoke.yaml"))


def stop_orphaned_ray_processes() -> list[int]:
    """SIGKILL this user's Ray processes (titled ``ray::``: agents, workers) whose raylet is gone.

    A driver of a local Ray that is SIGKILLed leaves ``ray::DashboardAgent`` and ``RuntimeEnvAgent``
    running with no parent. A live Ray's processes have their raylet as parent and are left alone.
    Returns the pids stopped.
    """
    stopped = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.stat().st_uid != os.getuid() or not (proc / "cmdline").read_bytes().startswith(b"ray::"):
                continue
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes() if parent > 0 else b""
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        # Orphaned: its parent is neither a raylet nor another Ray process (a fork of an actor is not).
        if b"raylet" not in parent_cmdline and not parent_cmdline.startswith(b"ray::"):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
                stopped.append(int(proc.name))
            except OSError:
                continue
    return stopped


def init_ray(num_cpus: int | None = None, verbose: bool = False) -> None:
    """Connect to the cluster of ``ray job submit`` / ``$RAY_ADDRESS``, or start a local Ray.

    Local workers use this interpreter (the project's environment); Ray's ``uv run`` hook, which
    would repackage the working directory for every worker, is turned off for local runs. Unless
    ``verbose``, Ray's own logs and the workers' output stay out of the console (they are still in
    Ray's session logs); the project's progress lines replace them.
    """
    console.set_verbose(verbose)
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    # Trials checkpoint every epoch on purpose (resume loses at most one epoch).
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray

    global _started_ray
    if ray.is_initialized():
        console.quiet_ray_logs()
        return
    options = {"logging_level": logging.INFO if verbose else logging.ERROR, "log_to_driver": verbose}
    if not os.environ.get("RAY_ADDRESS"):
        options.update(num_cpus=num_cpus, include_dashboard=False)
        orphans = stop_orphaned_ray_processes()
        if orphans:
            print(f"stopped {len(orphans)} Ray process(es) a killed run had left running (pids "
                  f"{', '.join(map(str, orphans[:10]))})", file=sys.stderr)  # fmt: skip
    with console.native_stderr_to_file(not verbose):
        ray.init(**options)
    _started_ray = True
    console.quiet_ray_logs()


def input_errors() -> tuple[type[BaseException], ...]:
    """The project's own error types for bad input: each prints as one line and exits 2."""
    from raysynth.config import SpecError
    from raysynth.datasets import DatasetError
    from raysynth.generate import PlanError
    from raysynth.generators import GeneratorError
    from raysynth.inputs import InputError, MissingInputs
    from raysynth.prompts.llm import DescriptionError
    from raysynth.quality.clap import ClapLoadError
    from raysynth.quality.filters import QualityShortfall
    from raysynth.quality.teacher import StaleTeacher
    from raysynth.report import ReportError
    from raysynth.schemas import SchemaError
    from raysynth.storage import StorageError
    from raysynth.sweep import SweepError
    from raysynth.sweep.resources import ResourceShortfall
    from raysynth.sweep.target import ExperimentExists

    return (
        SpecError, DatasetError, GeneratorError, DescriptionError, PlanError, ReportError, InputError,
        MissingInputs, StorageError, SchemaError, SweepError, StaleTeacher, QualityShortfall, ClapLoadError,
        ResourceShortfall, ExperimentExists,
    )  # fmt: skip


def runtime_errors() -> tuple[type[BaseException], ...]:
    """Failures during a run that one line explains (what failed, what is kept, how to go on): exit 1."""
    from raysynth.generate import GenerationFailed

    return (GenerationFailed,)


def run_main(main: Callable[[], int | None]) -> None:
    """Run ``main`` and turn the project's input errors into one clear message and exit code 2.

    Ctrl-C ends with one line saying what was kept and how to resume, the local Ray stopped, and
    exit code 130. Any other exception is a bug, not bad input: it propagates with its traceback.
    """
    try:
        code = main() or 0
    except input_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except runtime_errors() as error:  # a failure that is not bad input, but needs no traceback
        print(f"error: {error}", file=sys.stderr)
        code = 1
    except console.Interrupted as stop:
        print(f"\ninterrupted: {stop.hint}", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every shard and manifest written so far is kept (they are written whole or "
            "not at all); run the same command again to go on from there",
            file=sys.stderr,
        )
        code = EXIT_INTERRUPTED
    shutdown_ray()
    sys.exit(code)
