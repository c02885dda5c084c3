"""End to end: the smoke sweep through Ray Data and Ray Tune, then the report, as a user runs them."""

import contextlib
import os
import re
import runpy
import sys
import time
from pathlib import Path

import pytest

from conftest import AWS_SECRET_SENTINEL, REPO_ROOT

OPENAI_SENTINEL = "sk-sentinel-openai-3e8a7d5b21"


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_head(extra_env: dict[str, str]):
    """A real Ray head (``ray start --head --block``) with its own ports and temp dir; yields the job address.

    Its own temp dir keeps it out of /tmp/ray, where a plain ``ray.init()`` elsewhere would find it.
    Token authentication is on (as Ray enables it by default for local clusters), with a token of its own.
    """
    import secrets
    import shutil
    import subprocess
    import tempfile
    import urllib.request

    from conftest import kill_tree

    ray = str(Path(sys.executable).parent / "ray")
    temp_dir = tempfile.mkdtemp(prefix="rs-head-", dir="/tmp")  # short: Ray's socket paths are length-limited
    dashboard, agent = free_port(), free_port()
    token = Path(temp_dir) / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("RAY_ADDRESS", None)
    env.update(extra_env, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    head = subprocess.Popen(
        [ray, "start", "--head", "--block", f"--port={free_port()}", "--num-cpus=2", "--num-gpus=0",
         "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
         # Its own agent ports: the session's Ray instance already holds the default ones.
         f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={free_port()}",
         f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
         f"--ray-client-server-port={free_port()}",
         f"--temp-dir={temp_dir}", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"http://127.0.0.1:{dashboard}"
    headers = {"Authorization": f"Bearer {token.read_text()}"}
    try:
        # The dashboard answers first; the job agent (which `ray job submit` needs) a few seconds later,
        # and much later on a loaded 2-core machine. Wait for both, so a submit never races the agent.
        started = time.time()
        for url in (f"{address}/api/version", f"http://127.0.0.1:{agent}/api/healthz"):
            while True:
                try:
                    urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5)
                    break
                except OSError:
                    if time.time() > started + 240 or head.poll() is not None:
                        raise RuntimeError(
                            f"the local Ray head did not answer {url} in {time.time() - started:.0f} s "
                            f"(exit code {head.poll()}):\n{head_logs(temp_dir)}"
                        ) from None
                    time.sleep(1)
        yield address, {**env, "RAYSYNTH_TEST_HEAD_DIR": temp_dir}
    finally:
        kill_tree(head.pid)
        head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


def head_logs(temp_dir: str, lines: int = 15) -> str:
    """The last lines of a local head's dashboard and agent logs, for a failure message."""
    out = []
    for name in ("dashboard.log", "dashboard_agent.log", "raylet.out"):
        for log in Path(temp_dir).glob(f"session_*/logs/{name}"):
            out.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
    return "\n".join(out) or "(no head logs)"


def submit_job(address: str, env: dict, *args: str) -> tuple[int, str]:
    """``ray job submit --working-dir . -- python jobs/sweep.py ...``, as the README shows it."""
    import subprocess

    ray = str(Path(sys.executable).parent / "ray")
    deadline = time.time() + 180
    while True:
        result = subprocess.run(
            [ray, "job", "submit", f"--address={address}", "--working-dir", str(REPO_ROOT), "--",
             "python", "jobs/sweep.py", *args],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=480,
        )  # fmt: skip
        out = result.stdout + result.stderr
        # The agent answered before the submit, but the head can still look it up late (it waits 10 s).
        if "No available agent to submit job" not in out:
            return result.returncode, out
        if time.time() > deadline:
            return result.returncode, out + "\n" + head_logs(env["RAYSYNTH_TEST_HEAD_DIR"])
        time.sleep(2)


@pytest.fixture(scope="module")
def smoke(ray_session, s3, tmp_path_factory):
    """The smoke sweep in-process, then again through ``ray job submit`` on a real local head, with Tune's
    storage on S3 (it must reuse the shards), then the report: outputs and logs."""
    from raysynth.cli import smoke_spec
    from raysynth.config import load_spec
    from raysynth.inputs import resolve

    work = tmp_path_factory.mktemp("smoke") / "work"
    (job,) = resolve(load_spec(smoke_spec()), None, work).generation
    shard_dir = job.folder
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", OPENAI_SENTINEL)  # grepped for in every output below
        first = run_job_capturing("sweep.py", "--smoke-test", "--work-dir", str(work), "--name", "smoke")
        shards = sorted(shard_dir.glob("part-*.parquet"))
        with local_head(s3) as (address, env):
            second = submit_job(address, env, "--smoke-test", "--work-dir", str(work), "--name", "again",
                                "--storage-path", "s3://raysynth/results")  # fmt: skip
        report = run_job_capturing("report.py", str(work / "ray_results" / "smoke"))
        remote_report = run_job_capturing("report.py", "s3://raysynth/results/again",
                                          "--out", str(work / "remote_report"))  # fmt: skip
    return {"work": work, "first": first, "second": second, "report": report, "shards": shards,
            "remote_report": remote_report,
            "shards_after": sorted(shard_dir.glob("part-*.parquet"))}  # fmt: skip


@pytest.mark.e2e
def test_smoke_sweep_then_report(smoke):
    from raysynth.report import load

    code, out = smoke["first"]
    assert code == 0, out
    assert "6 trial(s): 6 completed, 0 stopped, 0 errored, 0 unfinished, 0 not run" in out
    assert "| real_fraction=0.5 |" in out and "synth_multiplier=1.0" in out
    assert smoke["shards"], "the generation stage wrote no shard"

    # The second sweep ran through `ray job submit` on a real head, with Tune's storage on S3, and
    # reused the shards.
    code, out = smoke["second"]
    assert code == 0, out[-3000:]
    assert (
        "succeeded" in out
        and "6 trial(s): 6 completed, 0 stopped, 0 errored, 0 unfinished, 0 not run" in out
        and "wrote 0 in 0 shard(s)" in out
    )
    assert "-> s3://raysynth/results/again" in out
    # A console a person can read: stage lines and one line per trial, not Ray's logs and tables.
    assert "trial 6/6 completed" in out and "prepare toy: manifest exists" in out, out[-3000:]
    assert "checks the plumbing, not the science" in out  # the caveat also when results are on S3
    for noise in ("streaming_executor", "logging_progress", "Trial status", "Checkpoint successfully",
                  "core_worker.cc", "xFormers", "Configuration for experiment"):  # fmt: skip
        assert noise not in out, f"{noise!r} in the job's console:\n{out[-3000:]}"
    assert not (smoke["work"] / "ray_results" / "again").exists()
    assert smoke["shards_after"] == smoke["shards"]
    remote = load("s3://raysynth/results/again")
    assert len(remote) == 6 and remote["selected_test_acc"].between(0, 1).all()

    exp = smoke["work"] / "ray_results" / "smoke"
    code, out = smoke["report"]
    assert code == 0 and "this checks the plumbing, not the science" in out and "skipped" not in out, out
    # The quality section: the filter's kept/rejected clips per class, and FAD against accuracy.
    assert "quality filters: kept / rejected synthetic training clips per class" in out
    assert "| teacher_top_fraction:0.5 | 0.5 | 1 | 10 / 10 | 10 / 10 | 10 / 10 | 10 / 10 |" in out, out
    assert "Does FAD predict usefulness?" in out and "embedding: teacher" in out
    df = load(exp)
    synthetic = df[df["synth_multiplier"] > 0]
    assert synthetic["fad"].notna().all() and (synthetic["fad"] >= 0).all() and df["fad"].isna().sum() == 2
    assert (exp / "quality_fad.csv").is_file() and (exp / "quality_filter_counts.csv").is_file()
    # The cost table: every cell's compute, its generation made on this CPU, hours per point of gain.
    assert "what each accuracy point costs" in out and (exp / "cost.csv").is_file()
    costs = __import__("pandas").read_csv(exp / "cost.csv")
    assert (costs["total h"] > 0).all() and len(costs) == 6
    assert set(costs.loc[costs["generation h"] > 0, "generated on"]) == {"cpu"}
    assert (synthetic["gen_seconds"] > 0).all() and (synthetic["gen_clips"] > 0).all()
    for name in (
        "trials.csv",
        "table_selected_test_acc.csv",
        "table_selected_test_acc.md",
        "table_selected_test_acc.tex",
    ):
        assert (exp / name).is_file(), name
    for figure in (
        "fig_synth_multiplier",
        "fig_real_fraction",
        "fig_class_precision",
        "fig_confusion",
        "fig_snr",
        "fig_fad_vs_accuracy",
        "fig_cost",
    ):
        assert (exp / f"{figure}.png").stat().st_size > 1000 and (exp / f"{figure}.pdf").is_file(), figure
    assert (exp / "report.html").is_file()


@pytest.mark.e2e
def test_no_secret_reaches_a_file_a_result_a_report_or_the_console(smoke):
    """The runs had a sentinel OPENAI_API_KEY and a sentinel AWS secret (the S3 results' own
    credentials): no file under the work dir (manifests, shards, Tune results, reports), no object
    in the S3 results, and no console output holds either."""
    import pyarrow.fs as pafs

    assert smoke["remote_report"][0] == 0, smoke["remote_report"][1]
    secrets = [OPENAI_SENTINEL.encode(), AWS_SECRET_SENTINEL.encode()]
    files = [p for p in smoke["work"].rglob("*") if p.is_file()]
    assert len(files) > 50 and any(p.name == "report.html" for p in files)
    leaks = [str(p) for p in files for s in secrets if s in p.read_bytes()]
    fs, _ = pafs.FileSystem.from_uri("s3://raysynth/results")
    objects = [i.path for i in fs.get_file_info(pafs.FileSelector("raysynth/results", recursive=True))
               if i.type == pafs.FileType.File]  # fmt: skip
    assert objects
    for path in objects:
        with fs.open_input_stream(path) as stream:
            data = stream.read()
        leaks += [f"s3://{path}" for s in secrets if s in data]
    consoles = [smoke[k][1] for k in ("first", "second", "report", "remote_report")]
    leaks += [f"console {i}" for i, text in enumerate(consoles) for s in secrets if s.decode() in text]
    assert leaks == []


@pytest.mark.e2e
def test_report_html_renders_in_chromium(smoke):
    assert smoke["report"][0] == 0
    check_html_in_chromium(smoke["work"] / "ray_results" / "smoke" / "report.html")


def check_html_in_chromium(page):
    """Load the report in headless Chromium: the page loads, tables render, audio elements have sources."""
    html = check_chromium_dom(page)
    assert "<table" in html and "test accuracy at the epoch chosen on validation" in html and "<td>" in html
    # One image per figure the report wrote (fig_cost among them), each loaded from the page.
    written = sorted(p.stem for p in Path(page).parent.glob("fig_*.png"))
    assert "fig_cost" in written and len(written) >= 7, written
    assert sorted(re.findall(r'<img class="figure" alt="(fig_[a-z_]+)"', html)) == written
    assert "Does FAD predict usefulness?" in html and html.count('<img class="spec"') >= 4
    assert '<audio controls="" preload="none" src="data:audio/flac;base64,' in html


def check_chromium_dom(page) -> str:
    """The DOM of ``page`` after headless Chromium loaded it and ran its scripts."""
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
    return dom.stdout


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

    from conftest import run_spec

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
    result = run_spec(spec, tmp_path / "data", tmp_path / "work", tmp_path / "results", "noise")
    assert (result.num_trials, result.num_errors) == (2, 0)
    assert [s.written for s in result.generation] == [6]  # 3 clips for each training recording
    df = load(result.experiment_dir)
    assert set(df["noise_source"]) == {"real", "synthetic"}
    assert df[["selected_test_acc@10dB", "selected_test_acc@5dB"]].notna().all().all()


@pytest.mark.e2e
def test_real_only_experiment_reports_to_html_also_when_moved(ray_session, tmp_path, monkeypatch):
    """search_spaces/fsdd.yaml (real data only, fewer epochs) through jobs/report.py to report.html;
    then the experiment folder copied elsewhere without its work dir still reports."""
    import shutil

    from raysynth.config import load_spec

    from conftest import fake_fsdd, run_spec

    fake_fsdd(tmp_path / "data")
    spec = load_spec(REPO_ROOT / "search_spaces" / "fsdd.yaml")
    spec = spec.model_copy(
        update={
            "dataset": spec.dataset.model_copy(update={"sample_rate": 8000}),
            "train": spec.train.model_copy(update={"epochs": 1, "num_threads": 1}),
            "resources": spec.resources.model_copy(update={"cpus_per_trial": 1}),
        }
    )
    result = run_spec(spec, tmp_path / "data", tmp_path / "work", tmp_path / "results", "real_only")
    assert (result.num_trials, result.num_errors) == (1, 0)
    experiment = Path(result.experiment_dir)
    assert run_job("report.py", str(experiment), monkeypatch=monkeypatch) == 0
    page = (experiment / "report.html").read_text()
    assert "no synthetic data in this experiment" in page and "data:audio/flac;base64," in page

    moved = tmp_path / "copied" / "real_only"
    shutil.copytree(experiment, moved)
    shutil.rmtree(tmp_path / "work"), shutil.rmtree(tmp_path / "results")
    assert run_job("report.py", str(moved), monkeypatch=monkeypatch) == 0
    page = (moved / "report.html").read_text()
    assert "the experiment folder was moved without its work dir" in page and "<table" in page


@pytest.mark.e2e
@pytest.mark.parametrize("algorithm", ["random", "optuna"])
def test_search_and_asha_on_the_toy_dataset(ray_session, tmp_path, algorithm):
    """A spec may sample cells and a continuous real_fraction (random or Optuna TPE) and stop weak
    trials early with ASHA on validation accuracy; every sampled trial is accounted for."""
    from raysynth.config import parse_spec
    from raysynth.report import load, status_counts

    from conftest import run_spec

    spec = parse_spec(
        {
            "name": f"search_{algorithm}",
            "dataset": {"name": "toy"},
            "train": {"epochs": 3, "batch_size": 8, "n_mels": 32},
            "grid": {"synth_multiplier": 0, "seed": [0, 1]},
            "search": {
                "algorithm": algorithm,
                "num_samples": 4,
                "real_fraction_range": [0.3, 1.0],
                "scheduler": "asha",
                "grace_period": 1,
                "reduction_factor": 2,
            },  # fmt: skip
            "resources": {"max_concurrent_trials": 1},
        }
    )
    result = run_spec(spec, tmp_path / "data", tmp_path / "work", tmp_path / "results", "s")
    df = load(result.experiment_dir)
    assert len(df) == 4 and result.num_errors == 0
    assert df["real_fraction"].between(0.3, 1.0).all() and df["real_fraction"].nunique() == 4
    assert set(df["seed"]) <= {0, 1}
    counts = status_counts(df)
    assert counts["completed"] + counts["stopped"] == 4 and counts["not run"] == 0, counts
    stopped = df[df["status"] == "stopped"]
    assert stopped["status_reason"].str.startswith("early-stopped by asha, on validation accuracy").all()


def test_early_stop_marker_marks_only_trials_ended_before_their_last_epoch(tmp_path):
    from types import SimpleNamespace

    from raysynth.report.trials import trial_status
    from raysynth.sweep import EarlyStopMarker

    marker = EarlyStopMarker()
    for name, last in (
        ("early", {"epoch": 1, "epochs_planned": 3}),
        ("full", {"epoch": 3, "epochs_planned": 3}),
    ):
        (tmp_path / name).mkdir()
        marker.on_trial_complete(0, [], SimpleNamespace(last_result=last, path=str(tmp_path / name)))
    assert trial_status(tmp_path / "early", [{"epoch": 1, "epochs_planned": 3}]) == (
        "stopped", "early-stopped by asha, on validation accuracy after epoch 1")  # fmt: skip
    assert trial_status(tmp_path / "full", [{"epoch": 3, "epochs_planned": 3}]) == ("completed", None)
