"""Chaos, sweeps: every trial of a big sweep is accounted for in the results and the report.

(A trial that fails is reported as errored, never dropped: tests/test_trust.py, defect 4.)
"""

import pytest
from test_e2e import run_job_capturing

N = 100  # trials

SPEC = """\
name: many
dataset: {{name: toy, sample_rate: 8000, clip_seconds: 0.5}}
train: {{backbone: cnn, epochs: 1, batch_size: 16, n_mels: 16}}
grid:
  real_fraction: [1.0]
  synth_multiplier: [0]
  seed: {seeds}
resources: {{cpus_per_trial: 1, max_concurrent_trials: 2, max_failures: {max_failures}}}
"""


@pytest.mark.e2e
def test_a_hundred_trial_sweep_accounts_for_every_trial(ray_session, tmp_path):
    from raysynth.report import load, status_counts

    spec = tmp_path / "many.yaml"
    spec.write_text(SPEC.format(seeds=list(range(N)), max_failures=0))
    code, out = run_job_capturing(
        "sweep.py", "--config", str(spec), "--work-dir", str(tmp_path), "--name", "many"
    )
    assert code == 0, out[-3000:]
    assert (
        f"{N} trial(s): {N} completed, 0 stopped, 0 errored, 0 unfinished, 0 not run, 0 not readable" in out
    )
    assert out.count("completed  seed=") == N and f"trial {N}/{N}" in out
    df = load(tmp_path / "ray_results" / "many")
    assert len(df) == N and status_counts(df)["completed"] == N and sorted(df["seed"]) == list(range(N))


@pytest.mark.e2e
@pytest.mark.slow  # 40-60 s: in the slow step of .ci/run, which CI always runs
def test_a_failing_trial_is_retried_as_max_failures_says_then_reported_as_errored(tmp_path):
    """A sweep in its own process (so its Ray workers see $RAYSYNTH_CHAOS): the trial of seed 1
    raises at every attempt; with max_failures 1 it runs twice, then the sweep ends, exit 1, with
    the other trials completed and that one counted as errored with its reason."""
    import os
    import subprocess
    import sys

    from raysynth.report import load

    from conftest import REPO_ROOT

    spec = tmp_path / "failing.yaml"
    spec.write_text(SPEC.format(seeds=[0, 1, 2], max_failures=1))
    attempts = tmp_path / "attempts"
    env = {**os.environ, "RAYSYNTH_CHAOS": f"trial-raise:1:{attempts}"}
    env.pop("RAY_ADDRESS", None)
    run = subprocess.run(
        [sys.executable, "jobs/sweep.py", "--config", str(spec), "--work-dir", str(tmp_path), "--name", "f"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-3000:]
    assert attempts.read_text().count("attempt") == 2  # the first run and one retry
    assert "3 trial(s): 2 completed, 0 stopped, 1 errored (RuntimeError: injected fault" in out, out[-3000:]
    assert "failed and is retried" in out and "errored    seed=1" in out
    df = load(tmp_path / "ray_results" / "f")
    assert df.set_index("seed").loc[1, "status"] == "errored"


@pytest.mark.e2e
def test_a_trial_on_a_reused_actor_gives_the_numbers_of_a_fresh_one(ray_session, tmp_path):
    """Trials reuse their Ray actors: the seed-2 trial run third on a reused actor (one trial at a
    time) matches, to the bit, the same trial run alone on a fresh actor. Nothing a trial leaves
    in its process may change the next trial's numbers."""
    from raysynth.report import load

    def run(name, seeds):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(
            SPEC.format(seeds=seeds, max_failures=0).replace(
                "max_concurrent_trials: 2", "max_concurrent_trials: 1"
            )
        )
        code, out = run_job_capturing(
            "sweep.py", "--config", str(spec), "--work-dir", str(tmp_path), "--name", name
        )
        assert code == 0, out[-3000:]
        return load(tmp_path / "ray_results" / name).set_index("seed")

    reused, alone = run("reused", [0, 1, 2]), run("alone", [2])
    for metric in ("selected_test_acc", "selected_valid_loss", "train_loss", "valid_loss"):
        assert reused.loc[2, metric] == alone.loc[2, metric], metric
    assert reused.loc[1, "train_loss"] != alone.loc[2, "train_loss"]  # the metrics do tell trials apart
