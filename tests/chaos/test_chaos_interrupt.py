"""Chaos, the driver: Ctrl-C during the trials ends cleanly, says how to resume, leaves no process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, kill_tree


def ray_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


@pytest.mark.e2e
def test_ctrl_c_during_the_trials_exits_130_with_the_resume_command_and_no_orphans(tmp_path):
    import shutil
    import tempfile

    # The run's own Ray temp dir (short: socket paths are length-limited); its processes name it.
    temp = Path(tempfile.mkdtemp(prefix="rs-int-", dir="/tmp"))
    env = {**os.environ, "RAY_TMPDIR": str(temp)}
    env.pop("RAY_ADDRESS", None)
    work = tmp_path / "work"
    # Real data only (no generation stage before the trials): 4 trials of the toy corpus.
    spec = tmp_path / "cut.yaml"
    spec.write_text(
        "name: cut\ndataset: {name: toy}\ntrain: {epochs: 8, batch_size: 8, n_mels: 32}\n"
        "grid: {real_fraction: [0.5, 1.0], seed: [0, 1]}\nresources: {max_concurrent_trials: 2}\n"
    )
    driver = subprocess.Popen(
        [sys.executable, "jobs/sweep.py", "--config", str(spec), "--work-dir", str(work), "--name", "cut"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    try:
        deadline = time.time() + 300
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("trial 1/4") or time.time() > deadline:
                break
        assert any(line.startswith("trial 1/4") for line in lines), "".join(lines)
        driver.send_signal(signal.SIGINT)
        rest, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            kill_tree(driver.pid)
    out = "".join(lines) + rest
    assert driver.returncode == 130, out
    assert "Traceback" not in out, out
    expected = (
        f"go on with: uv run python jobs/sweep.py --config {spec} --work-dir {work} --name cut --resume"
    )
    assert expected in out, out
    from ray import tune

    assert tune.Tuner.can_restore(str(work / "ray_results" / "cut"))
    deadline = time.time() + 20
    while ray_processes(str(temp)) and time.time() < deadline:
        time.sleep(1)
    assert ray_processes(str(temp)) == [], "processes left behind"
    shutil.rmtree(temp, ignore_errors=True)
