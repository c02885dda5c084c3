"""Experiment tracking: a toy sweep with ``tracking: mlflow`` leaves one MLflow run per trial, read
back with MLflow's own client from the default local store (no server, no network)."""

import json
from pathlib import Path

import pytest


@pytest.mark.e2e
@pytest.mark.slow  # a two-trial sweep through Ray and MLflow: about 40 s on 2 cores
def test_a_tracked_sweep_leaves_one_mlflow_run_per_trial(ray_session, tmp_path):
    from mlflow.tracking import MlflowClient

    from raysynth.config import parse_spec
    from raysynth.sweep.tracking import default_uri

    from conftest import fake_fsdd, run_spec

    spec = parse_spec({
        "name": "tracked", "dataset": {"name": "fsdd", "sample_rate": 8000}, "tracking": "mlflow",
        "train": {"epochs": 2, "num_threads": 1, "n_mels": 32},
        "grid": {"real_fraction": 1.0, "synth_multiplier": 0, "seed": [0, 1]},
        "resources": {"cpus_per_trial": 1, "max_concurrent_trials": 1},
    })  # fmt: skip
    work = tmp_path / "work"
    result = run_spec(spec, fake_fsdd(tmp_path / "data"), work, tmp_path / "results", "tracked")
    assert (result.num_trials, result.num_errors) == (2, 0)
    client = MlflowClient(tracking_uri=default_uri(work))
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(r.data.params["seed"] for r in runs) == ["0", "1"]
    for run in runs:
        assert run.data.params["real_fraction"] == "1.0" and run.data.tags["spec_hash"] == spec.spec_hash()
        assert run.data.tags["dataset"] == "fsdd" and run.data.tags["manifest"]
        history = client.get_metric_history(run.info.run_id, "valid_acc")
        assert [m.step for m in history] == [1, 2] and all(0 <= m.value <= 1 for m in history)
        assert "selected_test_acc" in run.data.metrics
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"params.json", "result.json"} <= names
        local = client.download_artifacts(run.info.run_id, "params.json", str(tmp_path / run.info.run_id))
        assert json.loads(open(local).read())["cell"]["seed"] == int(run.data.params["seed"])
    assert not (Path.cwd() / "mlruns").exists() and (work / "mlartifacts").is_dir()  # nothing in the cwd


def test_an_unreachable_tracking_server_is_one_line_before_ray(tmp_path, monkeypatch, capsys):
    """A tracking_uri nobody answers: exit 2 with one line, before Ray starts (MLflow's client would
    retry for minutes); a folder store, which MLflow 3 refuses, and a uri without tracking, too."""
    import socket

    from raysynth.config import SpecError, parse_spec

    from conftest import run_sweep_job

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = tmp_path / "spec.yaml"
    for uri, expected in ((f"http://127.0.0.1:{port}", "no MLflow server answered"),
                          ("file:///tmp/mlruns", "MLflow 3 refuses a folder store")):  # fmt: skip
        base.write_text(f"name: t\ndataset: {{name: toy}}\ntracking: mlflow\ntracking_uri: {uri}\n")
        code = run_sweep_job(["--config", str(base), "--work-dir", str(tmp_path / "w")], monkeypatch)
        err = capsys.readouterr().err
        assert code == 2 and expected in err and err.count("\n") == 1, err
    with pytest.raises(SpecError, match="tracking_uri is set but tracking is not mlflow"):
        parse_spec({"name": "t", "dataset": {"name": "toy"}, "tracking_uri": "sqlite:///x.db"})
