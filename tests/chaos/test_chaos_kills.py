"""Chaos, kills at random points: the generation driver, and separately a generator actor, SIGKILLed
at a seeded random moment (three seeds each). Afterwards only complete shards are on disk, and after
the rerun (the driver) or the retry (the actor) every planned clip is there exactly once.

These are ``slow``: each kill costs a driver or an actor start (about 30 s a case on 2 cores).
``.ci/run`` runs them after the main suite: ``uv run --locked pytest -m slow`` (with the two kill
and resume cases of tests/test_resume.py).
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO_ROOT, pids_titled

SEEDS = [0, 1, 2]
SPEC = (
    "name: kill\ndataset: {name: toy}\n"
    "generation: {tiny: true, num_gpus: 0, concurrency: 1, batch_size: 2, duration_s: 1.0}\n"
    "grid: {synth_multiplier: 1}\n"
)  # 40 clips of the toy corpus, 20 shards of 2


def kill_point(seed: int) -> tuple[int, float]:
    """After how many complete shards (of 20), and how many seconds later, the kill comes (seeded).

    A batch takes about a second here, so at most 8 shards and 0.3 s leave a dozen batches to kill
    into (a later point once let the run finish first)."""
    rng = random.Random(seed)
    return rng.randint(1, 8), rng.uniform(0.0, 0.3)


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def resolved_job(tmp_path: Path):
    from raysynth.config import load_spec
    from raysynth.inputs import resolve

    spec_file = tmp_path / "kill.yaml"
    spec_file.write_text(SPEC)
    resolved = resolve(load_spec(spec_file), None, tmp_path)
    return spec_file, resolved, resolved.generation[0]


def assert_every_planned_clip_once(resolved, job, killed_writers: int = 0) -> None:
    """Every planned id in exactly one visible, readable shard. A writer killed mid-write may leave
    its hidden ``.tmp-*`` file (readers never list it; a later run removes it once it is an hour
    old, so that a live writer's file is never taken)."""
    from raysynth.inputs.synthetic import plan_job

    planned = [row["id"] for row in plan_job(job, resolved.manifest.path)]
    for path in shard_files(job.folder):
        pq.read_table(path)
    ids = pq.read_table(shard_files(job.folder), columns=["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)), "a clip is on disk twice"
    assert sorted(ids) == sorted(planned) and len(planned) == 40
    assert len(list(job.folder.glob(".tmp-*"))) <= killed_writers, "temporary files of a live writer left"


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_driver_killed_at_a_random_point_then_rerun_has_every_clip_once(ray_session, tmp_path, seed):
    """The driver is a job on the session's Ray (as a ``ray job submit`` driver is on a cluster):
    SIGKILL takes it, and Ray ends its actors with it."""
    from raysynth.inputs import ensure

    spec_file, resolved, job = resolved_job(tmp_path)
    after, delay = kill_point(seed)
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    command = [sys.executable, "jobs/generate.py", "--config", str(spec_file), "--work-dir", str(tmp_path)]
    # Generator actors of earlier cases on the session's Ray (an idle actor pool lingers) are not this job's.
    earlier = set(pids_titled("ShardWriter"))
    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: len(shard_files(job.folder)) >= after or driver.poll() is not None, 300,
                     f"{after} shard(s)")  # fmt: skip
            time.sleep(delay)
            assert driver.poll() is None, (
                "the run ended before the kill:\n" + (tmp_path / "driver.log").read_text()
            )
            driver.send_signal(signal.SIGKILL)
        finally:
            driver.kill()
            driver.wait()
    # Ray ends a dead driver's actors; none may write on behind the rerun.
    wait_for(
        lambda: not set(pids_titled("ShardWriter")) - earlier, 60, "the killed job's generator actors to end"
    )
    # Batches the actor had already taken may still land after the kill (all 20 at a late point).
    partial = shard_files(job.folder)
    assert after <= len(partial) <= 20
    for path in partial:  # only complete, readable shards
        pq.read_table(path)

    (summary,) = ensure(resolved).generation
    assert (summary.skipped, summary.written) == (2 * len(partial), 40 - 2 * len(partial))
    assert_every_planned_clip_once(resolved, job, killed_writers=1)  # its one actor died with it


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_generator_actor_killed_at_a_random_point_is_retried_with_every_clip_once(
    ray_session, tmp_path, seed
):
    """Ray restarts the killed actor and retries its batch; the run finishes without a rerun."""
    from raysynth.inputs import ensure

    _, resolved, job = resolved_job(tmp_path)
    after, delay = kill_point(seed + 100)
    result: dict = {}

    def run() -> None:
        try:
            result["inputs"] = ensure(resolved)
        except Exception as error:  # noqa: BLE001 (asserted below)
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: len(shard_files(job.folder)) >= after or not thread.is_alive(), 300, f"{after} shard(s)")
    time.sleep(delay)
    assert thread.is_alive(), f"the run ended before the kill: {result}"
    killed = []
    for pid in pids_titled("ShardWriter"):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    thread.join(timeout=300)
    assert killed, "found no generator actor to kill"
    assert "error" not in result, result.get("error")
    (summary,) = result["inputs"].generation
    assert (summary.planned, summary.skipped, summary.written) == (40, 0, 40)
    assert_every_planned_clip_once(resolved, job, killed_writers=len(killed))
