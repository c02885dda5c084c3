"""End to end: the smoke sweep through Ray Data and Ray Tune, then the report, as a user runs them."""

import runpy
import sys

import pytest

from conftest import REPO_ROOT


def run_job(script, *args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script, *args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO_ROOT / "jobs" / script), run_name="__main__")
    return info.value.code


def run_job_capturing(script, *args):
    """Run a job script in this process; returns (exit code, stdout)."""
    import contextlib
    import io

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        code = run_job(script, *args, monkeypatch=patch)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def smoke(ray_session, tmp_path_factory):
    """The smoke sweep run twice (the second must reuse the shards), then the report: outputs and logs."""
    work = tmp_path_factory.mktemp("smoke") / "work"
    shard_dir = work / "synthetic" / "toy" / "audiogen" / "label"
    first = run_job_capturing("sweep.py", "--smoke-test", "--work-dir", str(work), "--name", "smoke")
    shards = sorted(shard_dir.glob("part-*.parquet"))
    second = run_job_capturing("sweep.py", "--smoke-test", "--work-dir", str(work), "--name", "again")
    report = run_job_capturing("report.py", str(work / "ray_results" / "smoke"))
    return {"work": work, "first": first, "second": second, "report": report, "shards": shards,
            "shards_after": sorted(shard_dir.glob("part-*.parquet"))}  # fmt: skip


@pytest.mark.e2e
def test_smoke_sweep_then_report(smoke):
    code, out = smoke["first"]
    assert code == 0, out
    assert "4 trial(s), 0 failed" in out
    assert "| real_fraction=0.5 |" in out and "synth_multiplier=1.0" in out
    assert smoke["shards"], "the generation stage wrote no shard"

    # A second sweep reuses the shards: nothing new is generated.
    code, out = smoke["second"]
    assert code == 0 and "wrote 0 in 0 shard(s)" in out
    assert smoke["shards_after"] == smoke["shards"]

    exp = smoke["work"] / "ray_results" / "smoke"
    code, out = smoke["report"]
    assert code == 0 and "± " in out and "skipped" not in out, out
    for name in (
        "trials.csv",
        "table_selected_test_acc.csv",
        "table_selected_test_acc.md",
        "table_selected_test_acc.tex",
    ):
        assert (exp / name).is_file(), name
    for figure in ("fig_synth_multiplier", "fig_real_fraction", "fig_class_precision", "fig_snr"):
        assert (exp / f"{figure}.png").stat().st_size > 1000 and (exp / f"{figure}.pdf").is_file(), figure
    assert (exp / "report.html").is_file()


@pytest.mark.e2e
def test_report_html_renders_in_chromium(smoke):
    assert smoke["report"][0] == 0
    check_html_in_chromium(smoke["work"] / "ray_results" / "smoke" / "report.html")


def check_html_in_chromium(page):
    """Load the report in headless Chromium: the page loads, tables render, audio elements have sources."""
    import shutil
    import subprocess

    from conftest import IN_CI

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if IN_CI:
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={page.parent / 'chromium-profile'}"]  # fmt: skip
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<table" in html and "selected_test_acc" in html and "<td>" in html
    assert html.count("<img") == 4
    assert '<audio controls="" preload="none" src="data:audio/flac;base64,' in html


def test_bad_config_exits_2_with_message(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ndataset:\n  name: toy\ngird:\n  seed: 1\n")
    assert run_job("sweep.py", "--config", str(spec), monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "unknown key 'gird'" in err and "did you mean 'grid'" in err


def test_unknown_dataset_exits_2(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\ndataset:\n  name: esc51\n")
    assert (
        run_job("sweep.py", "--config", str(spec), "--work-dir", str(tmp_path), monkeypatch=monkeypatch) == 2
    )
    err = capsys.readouterr().err
    assert "unknown dataset 'esc51'; registered datasets: " in err and "esc50, fsdd" in err


def test_report_unknown_axis_exits_2(tmp_path, monkeypatch, capsys):
    trial = tmp_path / "exp" / "t0"
    trial.mkdir(parents=True)
    (trial / "params.json").write_text('{"real_fraction": 1.0}')
    (trial / "result.json").write_text('{"selected_test_acc": 0.5}\n')
    assert run_job("report.py", str(tmp_path / "exp"), "--rows", "temperature", monkeypatch=monkeypatch) == 2
    assert "available:" in capsys.readouterr().err


@pytest.mark.e2e
def test_noise_sweep_real_and_synthetic_noise(ray_session, tmp_path):
    """Noise robustness through the sweep: real and generated training noise, noisy test sets."""
    import numpy as np
    import soundfile as sf

    from raysynth.config import parse_spec
    from raysynth.report import load
    from raysynth.sweep import run_sweep

    noise_dir = tmp_path / "data" / "noise"
    noise_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("fan", "rain", "tap"):
        sf.write(noise_dir / f"{name}.wav", 0.2 * rng.standard_normal(16000 * 2).astype(np.float32), 16000)
    spec = parse_spec(
        {
            "name": "noise_e2e",
            "dataset": {"name": "toy"},
            "generation": {"tiny": True, "num_gpus": 0, "concurrency": 1, "batch_size": 8},
            "train": {"epochs": 2, "batch_size": 8, "n_mels": 32},
            "noise": {
                "directory": "noise",
                "test_files": ["tap"],
                "segment_seconds": 1.0,
                "synthetic_clips_per_recording": 3,
                "test_snrs": [10.0, 5.0],
            },  # fmt: skip
            "grid": {"noise_source": ["real", "synthetic"]},
            "resources": {"max_concurrent_trials": 2},
        }
    )
    result = run_sweep(spec, tmp_path / "data", tmp_path / "work", str(tmp_path / "results"), "noise")
    assert (result.num_trials, result.num_errors) == (2, 0)
    assert [s.written for s in result.generation] == [6]  # 3 clips for each training recording
    df = load(result.experiment_dir)
    assert set(df["noise_source"]) == {"real", "synthetic"}
    assert df[["selected_test_acc@10dB", "selected_test_acc@5dB"]].notna().all().all()
