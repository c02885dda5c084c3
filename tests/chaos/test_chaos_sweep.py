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
