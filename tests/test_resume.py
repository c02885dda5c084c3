"""A sweep whose driver is killed mid-way resumes to completion without rerunning finished trials.

Both cases kill a whole local Ray with its driver and start new ones (about a minute each), so they
are ``slow``: ``uv run --locked pytest -m slow`` (``.ci/run`` runs them after the main suite)."""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, kill_tree


def trial_epochs(experiment):
    """trial folder -> epochs reported, from each trial's result.json."""
    epochs = {}
    for result in experiment.glob("*/result.json"):
        lines = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        epochs[result.parent.name] = [line.get("epoch") for line in lines]
    return epochs


@pytest.mark.e2e
@pytest.mark.slow
def test_killed_driver_then_resume(tmp_path):
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_ADDRESS": ""}
    spec = tmp_path / "resume.yaml"
    spec.write_text(
        "name: resume\ndataset: {name: toy}\ntrain: {epochs: 4, batch_size: 8, n_mels: 32}\n"
        "grid: {real_fraction: [0.5, 1.0], synth_multiplier: 0}\n"
        "resources: {max_concurrent_trials: 1}\n"
    )
    command = [
        sys.executable,
        "jobs/sweep.py",
        "--config",
        str(spec),
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
            finished = {t: e for t, e in trial_epochs(experiment).items() if e and e[-1] == 4}
            if finished:
                break
            time.sleep(0.5)
        assert driver.poll() is None, (
            "the sweep ended before it could be killed:\n" + (tmp_path / "first.log").read_text()[-3000:]
        )
        assert finished, "no trial finished in time:\n" + (tmp_path / "first.log").read_text()[-3000:]
        kill_tree(driver.pid)
        driver.wait()
    before = {t: (experiment / t / "result.json").read_text() for t in finished}
    assert len(trial_epochs(experiment)) < 2 or not all(
        e and e[-1] == 4 for e in trial_epochs(experiment).values()
    )

    resumed = subprocess.run(
        [*command, "--resume"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "2 trial(s): 2 completed, 0 stopped" in resumed.stdout
    after = trial_epochs(experiment)
    assert len(after) == 2 and all(epochs[-1] == 4 for epochs in after.values())
    for trial, text in before.items():
        assert (experiment / trial / "result.json").read_text() == text, f"finished trial {trial} was rerun"


@pytest.mark.e2e
@pytest.mark.slow
def test_killed_generation_resumes_with_every_clip_exactly_once(tmp_path):
    import pyarrow.parquet as pq

    from raysynth.config import load_spec
    from raysynth.inputs import resolve
    from raysynth.inputs.synthetic import plan_job

    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_ADDRESS": ""}
    spec_file = tmp_path / "gen.yaml"
    spec_file.write_text(
        "name: gen\ndataset: {name: toy}\n"
        "generation: {tiny: true, num_gpus: 0, concurrency: 1, batch_size: 2, duration_s: 1.0}\n"
        "grid: {synth_multiplier: 1}\n"
    )
    command = [sys.executable, "jobs/generate.py", "--config", str(spec_file), "--work-dir", str(tmp_path)]
    (job,) = resolve(load_spec(spec_file), None, tmp_path).generation
    shards = job.folder
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.time() + 300
        while (
            time.time() < deadline and first.poll() is None and len(list(shards.glob("part-*.parquet"))) < 3
        ):
            time.sleep(0.2)
        assert first.poll() is None, "generation ended before it could be killed"
        kill_tree(first.pid)
        first.wait()
    partial = sorted(shards.glob("part-*.parquet"))
    assert 3 <= len(partial) < 20
    for path in partial:  # a killed run leaves only complete, readable shards
        pq.read_table(path)

    resumed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    ids = pq.read_table(sorted(shards.glob("part-*.parquet")), columns=["id"]).column("id").to_pylist()
    planned = [
        row["id"] for row in plan_job(job, resolve(load_spec(spec_file), None, tmp_path).manifest.path)
    ]
    assert len(ids) == len(set(ids)) == len(planned) == 40
    assert set(ids) == set(planned)
    assert f"skipped {len(partial) * 2} (already written)" in resumed.stdout
