"""A sweep whose driver is killed mid-way resumes to completion without rerunning finished trials."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT


def trial_epochs(experiment):
    """trial folder -> epochs reported, from each trial's result.json."""
    epochs = {}
    for result in experiment.glob("*/result.json"):
        lines = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        epochs[result.parent.name] = [line.get("epoch") for line in lines]
    return epochs


@pytest.mark.e2e
def test_killed_driver_then_resume(tmp_path):
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_ADDRESS": ""}
    command = [
        sys.executable,
        "jobs/sweep.py",
        "--smoke-test",
        "--work-dir",
        str(tmp_path),
        "--name",
        "killed",
    ]
    experiment = tmp_path / "ray_results" / "killed"
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.time() + 400
        finished = {}
        while time.time() < deadline and driver.poll() is None:
            finished = {t: e for t, e in trial_epochs(experiment).items() if e and e[-1] == 6}
            if finished:
                break
            time.sleep(0.5)
        assert driver.poll() is None, (
            "the sweep ended before it could be killed:\n" + (tmp_path / "first.log").read_text()[-3000:]
        )
        assert finished, "no trial finished in time:\n" + (tmp_path / "first.log").read_text()[-3000:]
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = {t: (experiment / t / "result.json").read_text() for t in finished}
    assert len(trial_epochs(experiment)) < 4 or not all(
        e and e[-1] == 6 for e in trial_epochs(experiment).values()
    )

    resumed = subprocess.run(
        [*command, "--resume"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "4 trial(s), 0 failed" in resumed.stdout
    after = trial_epochs(experiment)
    assert len(after) == 4 and all(epochs[-1] == 6 for epochs in after.values())
    for trial, text in before.items():
        assert (experiment / trial / "result.json").read_text() == text, f"finished trial {trial} was rerun"
