"""Shared fixtures: one session-scoped local Ray, the real recordings in ../shared/data, and tiny data."""

from __future__ import annotations

import glob
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def require_program(program: str, package: str) -> None:
    """Skip where a Debian-only program is missing, but fail in CI, which installs it (.ci/run)."""
    import shutil

    if shutil.which(program) is None:
        if IN_CI:
            pytest.fail(f"{program} is not installed; .ci/run installs Debian's {package} package")
        pytest.skip(f"{program} is not installed (apt-get install {package})")


def _shared_data_root() -> Path:
    return Path(os.environ.get("RAYSYNTH_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$RAYSYNTH_TEST_DATA``). Skips where absent, but fails in CI, which always has it."""
    root = _shared_data_root()
    if not (root / "fsdd" / "recordings").is_dir():
        message = f"real recordings not found at {root} (set RAYSYNTH_TEST_DATA)"
        if IN_CI:
            pytest.fail(message + "; CI must have them")
        pytest.skip(message)
    return root


def kill_tree(pid: int) -> None:
    """SIGKILL a driver and every process it started (its local Ray: GCS, raylet, workers).

    Killing only the driver would leave its Ray workers running on; they would keep writing into
    the experiment while the resumed run works on it. Killing the tree is a hard crash of the run.
    """
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        for children in glob.glob(f"/proc/{parent}/task/*/children"):
            try:
                kids = [int(c) for c in open(children).read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    for target in [pid, *found]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 30
    while time.time() < deadline and any(os.path.exists(f"/proc/{p}") and not _zombie(p) for p in found):
        time.sleep(0.2)


def pids_titled(marker: str) -> list[int]:
    """Processes whose command line (Ray's process title for actors) contains ``marker``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in pids if pid != os.getpid()]


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# The secret is a sentinel: tests/test_e2e.py greps every output for it (and finds none).
AWS_SECRET_SENTINEL = "sentinel-aws-secret-6f1d2c9ab7"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": AWS_SECRET_SENTINEL, "AWS_REGION": "us-east-1",
          "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@pytest.fixture(scope="session")
def s3():
    """A local S3 server with a bucket ``raysynth``; yields the environment that points clients at it."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            if time.time() > deadline:
                kill_tree(server.pid)
                pytest.fail("moto's S3 server did not start")
            time.sleep(0.2)
    env = {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="raysynth")
        yield env
    kill_tree(server.pid)


@pytest.fixture
def short_tmp():
    """A temporary folder with a short path, for a Ray whose temp dir is inside it (its socket paths
    must stay under 108 bytes, which pytest's ``tmp_path`` can exceed); removed afterwards."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def fake_fsdd(root: Path) -> Path:
    """A tiny FSDD-layout corpus of noise clips (10 digits, 2 speakers, 12 recordings each; index
    0-4 test, 5-9 valid, 10-11 train): real-only sweeps that test plumbing, not learning."""
    import numpy as np
    import soundfile as sf

    recordings = root / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for digit in range(10):
        for speaker in ("jackson", "theo"):
            for index in range(12):
                wave = np.random.default_rng(digit * 100 + index).standard_normal(2400).astype(np.float32)
                sf.write(recordings / f"{digit}_{speaker}_{index}.wav", 0.2 * wave, 8000)
    return root


def run_spec(spec, data_root, work_dir, storage_path, name, resume=False, generate=True):
    """What ``jobs/sweep.py`` does, in this process: resolve, build the inputs, run the trials."""
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.sweep import run_sweep

    resolved = resolve(spec, data_root, work_dir)
    inputs = ensure(resolved, generate=generate)
    return run_sweep(resolved, inputs, trial_context(resolved, inputs), str(storage_path), name, resume)


def run_sweep_job(args, monkeypatch, stop_at=None):
    """jobs/sweep.py in this process, with Ray's start (or ``stop_at``: a module and the name of a
    stage in it, Ray allowed) replaced by a failure: a check that passes only if the job never
    reached it."""
    import raysynth.cli

    def reached(*_, **__):
        raise AssertionError(f"the job reached {stop_at[1] if stop_at else 'the start of Ray'}")

    module, name = stop_at or (raysynth.cli, "init_ray")
    if stop_at is not None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the test session's local Ray
    monkeypatch.setattr(module, name, reached)
    monkeypatch.setattr(sys, "argv", ["sweep.py", *args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO_ROOT / "jobs" / "sweep.py"), run_name="__main__")
    return info.value.code


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole test session."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    yield ray
    ray.shutdown()


_DESELECTED_E2E: list[str] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    # A slow e2e case is deselected from the main run on purpose: the slow run (.ci/run) runs it.
    _DESELECTED_E2E.extend(
        item.nodeid
        for item in items
        if item.get_closest_marker("e2e") and not item.get_closest_marker("slow")
    )


def e2e_problems(stats: dict, deselected: list[str]) -> list[str]:
    """Why a CI run's end-to-end coverage is not whole: e2e tests skipped, deselected, or none run."""
    problems = [f"e2e test skipped: {r.nodeid}" for r in stats.get("skipped", []) if "e2e" in r.keywords]
    problems += [f"e2e test deselected: {nodeid}" for nodeid in deselected]
    if not any("e2e" in r.keywords for r in stats.get("passed", [])):
        problems.append("no end-to-end (e2e) test passed")
    return problems


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, any end-to-end test that was skipped or deselected fails the run: it must never be silent
    (in the ``-m slow`` run: any slow test skipped, or none passed)."""
    if not IN_CI or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = reporter.stats if reporter else {}
    if session.config.option.markexpr == "slow":  # the slow run (.ci/run's second step)
        problems = [f"slow test skipped: {r.nodeid}" for r in stats.get("skipped", [])]
        problems += [] if stats.get("passed") else ["no slow test passed"]
    else:
        problems = e2e_problems(stats, _DESELECTED_E2E)
    if problems:
        for problem in problems:
            if reporter:
                reporter.write_line(f"error: {problem}; CI requires every e2e test to run", red=True)
        session.exitstatus = 1
