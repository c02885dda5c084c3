"""Chaos, round two: specs that hang or exhaust memory, pickles in a work dir, tracebacks where one
line is due, silent misreadings of the input, and orphaned Ray agents. Each case failed on the code
before its fix."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import pids_titled, run_sweep_job

BASE = "name: probe\ndataset: {name: toy, sample_rate: 16000, clip_seconds: 1.0}\n"


def refused(tmp_path, monkeypatch, capsys, text, *args, stop_at=None):
    """Run jobs/sweep.py on spec ``text``; return (exit code, stderr, seconds). Ray never starts (or,
    with ``stop_at``, the job never reaches that stage)."""
    spec = tmp_path / "probe.yaml"
    spec.write_text(text)
    start = time.perf_counter()
    args = ["--config", str(spec), "--work-dir", str(tmp_path / "work"), *args]
    code = run_sweep_job(args, monkeypatch, stop_at)
    err = capsys.readouterr().err
    return code, err, time.perf_counter() - start


def one_line(err: str) -> bool:
    return err.strip().count("\n") == 0 and "Traceback" not in err


# Hangs and memory ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, monkeypatch, capsys):
    bomb = ["    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = BASE + "generation:\n  generator: tts\n  runtime_env:\n" + "\n".join(bomb) + "\n"
    assert len(text) < 1200
    code, err, seconds = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and "alias" in err and "probe.yaml" in err and one_line(err), err
    assert seconds < 30  # mostly the import of the job (the old code ran out of memory instead)


def test_a_key_written_twice_is_refused_naming_both_lines(tmp_path, monkeypatch, capsys):
    text = BASE + "train:\n  epochs: 1\ngrid:\n  seed: [0]\ntrain:\n  epochs: 5\n"
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and one_line(err), err
    assert "'train'" in err and "line 3" in err and "line 7" in err, err


@pytest.mark.timeout(90)
def test_a_grid_of_100000_seeds_says_how_many_trials_and_is_refused(tmp_path, monkeypatch, capsys):
    seeds = ", ".join(str(s) for s in range(100_000))
    code, err, seconds = refused(tmp_path, monkeypatch, capsys, BASE + f"grid:\n  seed: [{seeds}]\n")
    assert code == 2 and one_line(err), err
    assert "100000 trials" in err and "resources.max_trials" in err, err
    assert seconds < 30


@pytest.mark.timeout(60)
def test_a_vanishing_top_fraction_is_refused_before_planning(tmp_path, monkeypatch, capsys):
    text = BASE + (
        "generation: {generator: tts, prompt_template: '{label}'}\n"
        "grid: {synth_multiplier: [1], quality_filter: ['teacher_top_fraction:1e-300']}\n"
    )
    code, err, seconds = refused(tmp_path, monkeypatch, capsys, text, "--no-generate")
    assert code == 2 and "1e-300" in err and one_line(err), err
    assert seconds < 30


def test_an_oversample_beyond_the_pool_limit_is_refused(tmp_path, monkeypatch, capsys):
    text = BASE + (
        "generation: {generator: tts, prompt_template: '{label}'}\nquality: {oversample: 1.0e+9}\n"
        "grid: {synth_multiplier: [1], quality_filter: ['teacher_threshold:0.5']}\n"
    )
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text, "--no-generate")
    assert code == 2 and "quality.oversample" in err, err


def test_trial_resources_beyond_the_local_ray_are_refused_before_any_work(
    tmp_path, monkeypatch, capsys, ray_session
):
    """The session's local Ray has 2 CPUs: a trial of 64 never starts. Nothing was prepared."""
    import raysynth.inputs

    text = BASE + "resources: {cpus_per_trial: 64}\n"
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text, stop_at=(raysynth.inputs, "ensure"))
    assert code == 2 and one_line(err), err
    assert "resources.cpus_per_trial" in err and "64" in err and "2 CPU" in err, err


# Code execution ---------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def teacher_plan(tmp_path):
    from raysynth.cli import smoke_spec
    from raysynth.config import load_spec
    from raysynth.inputs import resolve

    plan = resolve(load_spec(smoke_spec()), None, tmp_path / "work").teachers[0]
    Path(plan.path).parent.mkdir(parents=True)
    Path(plan.manifest).parent.mkdir(parents=True)
    Path(plan.manifest).write_bytes(b"a manifest")
    return plan


def test_a_pickled_teacher_checkpoint_runs_no_code(tmp_path, teacher_plan):
    import torch

    from raysynth.cli import input_errors
    from raysynth.quality.teacher import Teacher, check_teacher

    marker = tmp_path / "ran"
    torch.save({"manifest_id": "x", "payload": _Payload(marker)}, teacher_plan.path)
    with pytest.raises(input_errors()) as info:
        check_teacher(teacher_plan)
    assert teacher_plan.path in str(info.value)
    with pytest.raises(input_errors()):
        Teacher.load(teacher_plan.path)
    assert not marker.exists()


def test_a_pickled_trial_state_runs_no_code(tmp_path):
    import torch

    from raysynth.cli import input_errors
    from raysynth.sweep import load_trial_state

    marker = tmp_path / "ran"
    torch.save({"epoch": 1, "payload": _Payload(marker)}, tmp_path / "state.pt")
    with pytest.raises(input_errors()) as info:
        load_trial_state(tmp_path / "state.pt")
    assert "state.pt" in str(info.value) and not marker.exists()


# Tracebacks where one line is due ---------------------------------------------------------------


def test_a_truncated_teacher_checkpoint_is_named_and_refused(teacher_plan):
    import torch

    from raysynth.cli import input_errors
    from raysynth.quality.teacher import check_teacher

    torch.save({"manifest_id": "x", "model": {"w": torch.zeros(1000)}}, teacher_plan.path)
    data = Path(teacher_plan.path).read_bytes()
    Path(teacher_plan.path).write_bytes(data[: len(data) // 2])
    with pytest.raises(input_errors()) as info:
        check_teacher(teacher_plan)
    assert teacher_plan.path in str(info.value) and "\n" not in str(info.value)


def test_a_damaged_score_table_part_is_moved_aside_and_its_clips_scored_again(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from raysynth.quality.scoring import SCORE_SCHEMA, scored_ids

    good = {"id": ["a", "b"], "label": ["x", "x"], "score": [0.1, 0.2], "margin": [0.0, 0.1]}
    pq.write_table(pa.Table.from_pydict(good, schema=SCORE_SCHEMA), tmp_path / "part-good.parquet")
    (tmp_path / "part-bad.parquet").write_bytes(b"PAR1 not a parquet file at all")
    assert scored_ids(tmp_path) == {"a", "b"}
    assert not (tmp_path / "part-bad.parquet").exists()
    assert list(tmp_path.glob("*part-bad*")), "the damaged part was deleted, not moved aside"
    assert "part-bad.parquet" in capsys.readouterr().err


def test_a_clap_filter_with_no_reachable_model_is_one_line_before_ray(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))
    text = BASE + (
        "generation: {generator: tts, prompt_template: '{label}'}\n"
        "grid: {synth_multiplier: [1], quality_filter: ['clap_top_fraction:0.5']}\n"
    )
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and one_line(err) and "laion/clap-htsat-unfused" in err, err
    assert "huggingface-cli download" in err


@pytest.mark.slow
def test_a_threshold_that_keeps_too_few_clips_is_one_line_before_any_trial(
    tmp_path, monkeypatch, capsys, ray_session
):
    """Only the scores can tell: the driver runs each threshold trial's filter step once they exist."""
    import raysynth.sweep

    text = BASE + (
        "generation: {generator: tts, prompt_template: '{label}', concurrency: 1}\n"
        "train: {epochs: 1, batch_size: 8}\nquality: {teacher_epochs: 1, oversample: 1}\n"
        "grid: {synth_multiplier: [1], quality_filter: ['teacher_threshold:1.0']}\n"
    )
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text, stop_at=(raysynth.sweep, "run_sweep"))
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert "teacher_threshold:1 keeps too few clips" in errors[0]


@pytest.mark.parametrize(
    ("generation", "expected"),
    [
        ("{generator: tts, prompt_template: '{label}', voices: [en-us, en-xx]}", "generation.voices"),
        (
            "{generator: tts, prompt_template: '{label}', voice_variants: [no-such-variant]}",
            "generation.voice_variants",
        ),
        ("{generator: tts, prompt_template: ' '}", "generation.prompt_template"),
        ("{generator: tts, prompt_template: '{label}', rate_wpm: [0, 0]}", "generation.rate_wpm [0.0, 0.0]"),
        ("{generator: tts, prompt_template: '{label}', pitch: [20, 150]}", "generation.pitch [20.0, 150.0]"),
        ("{generator: audiogen, tiny: true, prompt_template: ''}", "generation.prompt_template"),
    ],
)
def test_generation_settings_an_actor_would_reject_are_refused_before_ray(
    tmp_path, monkeypatch, capsys, generation, expected
):
    text = BASE + f"generation: {generation}\ngrid: {{synth_multiplier: [1]}}\n"
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and expected in err and one_line(err), err
    assert "run the same command again" not in err


def test_noise_trained_and_tested_clean_builds_no_test_noise_bank():
    from types import SimpleNamespace

    import numpy as np

    from raysynth.config import NoiseConfig
    from raysynth.train.noise import noisy_test_sets

    context = SimpleNamespace(noise_manifest="/nonexistent/manifest.parquet", sample_rate=16000,
                              noise=NoiseConfig(directory="x", test_snrs=[], test_files=[]))  # fmt: skip
    assert noisy_test_sets(np.zeros((2, 16000), np.float32), ["a", "b"], context) == {}


def test_test_snrs_with_no_held_out_recording_are_refused(tmp_path, monkeypatch, capsys):
    text = BASE + "noise: {directory: toy_noise, test_files: []}\ngrid: {noise_source: real}\n"
    code, err, _ = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and "noise.test_files" in err and "noise.test_snrs" in err and one_line(err), err


# Silent misreadings of the input ----------------------------------------------------------------


def test_a_work_dir_that_is_no_folder_nor_object_store_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "probe.yaml"
    spec.write_text(BASE)
    code = run_sweep_job(["--config", str(spec), "--work-dir", "ftp://bucket/prefix"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and "--work-dir" in err and "ftp://bucket/prefix" in err and one_line(err), err
    assert list(tmp_path.iterdir()) == [spec]


def test_an_object_store_work_dir_that_cannot_be_reached_is_one_line_before_any_work(
    tmp_path, monkeypatch, capsys
):
    from conftest import S3_ENV

    monkeypatch.chdir(tmp_path)
    for key, value in {
        **S3_ENV,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)  # nothing listens there
    spec = tmp_path / "probe.yaml"
    spec.write_text(BASE)
    code = run_sweep_job(["--config", str(spec), "--work-dir", "s3://bucket/prefix"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and "s3://bucket/prefix" in err and one_line(err), err
    assert list(tmp_path.iterdir()) == [spec]  # no ./s3: folder, no local work dir


def test_a_name_that_leaves_the_results_folder_is_refused(tmp_path, monkeypatch, capsys):
    code, err, _ = refused(tmp_path, monkeypatch, capsys, BASE, "--name", "../../escaped")
    assert code == 2 and "--name" in err and "../../escaped" in err and one_line(err), err


def test_a_clip_far_longer_than_the_others_is_flagged_and_skip_reasons_print_whole(tmp_path):
    import numpy as np
    import soundfile as sf

    from raysynth.datasets.manifest import ClipSource, write_manifest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sources = []
    for index, seconds in enumerate([1, 1, 1, 1, 600]):
        path = corpus / f"clip{index}.wav"
        sf.write(path, np.full(int(seconds * 8000), 0.1, np.float32), 8000)
        sources.append(
            ClipSource(id=f"c{index}", path=path, split="train", label="a", label_id=0, label_text="a")
        )
    broken = corpus / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    sources.append(ClipSource(id="broken", path=broken, split="train", label="a", label_id=0, label_text="a"))
    report = write_manifest("probe", sources, tmp_path / "out", 8000)
    summary = report.summary()
    long_lines = [line for line in summary.splitlines() if "clip4.wav" in line]
    assert long_lines and "600" in long_lines[0] and "longer" in long_lines[0], summary
    skipped = [line for line in summary.splitlines() if "broken.wav" in line]
    assert skipped, summary
    reason = report.skipped[0][1]
    assert reason in skipped[0] and not reason.startswith(("ror", "rror")), summary


# Orphans ----------------------------------------------------------------------------------------


def test_ray_agents_orphaned_by_a_killed_driver_are_stopped_by_the_next_run():
    """A ``ray::DashboardAgent`` whose raylet died (its parent is gone) is stopped; a live Ray's
    processes (the session's own workers, whose parent is their raylet) are not."""
    from raysynth.cli import stop_orphaned_ray_processes

    title = f"ray::DashboardAgent-probe-{os.getpid()}"
    subprocess.run(["bash", "-c", f'(exec -a "{title}" sleep 300 &)'], check=True)

    def orphaned() -> list[int]:
        """The probe once it is one: titled so itself (not the shell that starts it, whose command line
        holds the title too), and no longer the child of that shell (on a busy machine it lingers)."""
        found = []
        for pid in pids_titled(title):
            try:
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(
                    title.encode()
                ) and title.encode() not in (
                    Path(f"/proc/{parent}/cmdline").read_bytes() if parent > 0 else b""
                ):
                    found.append(pid)
            except OSError:
                continue
        return found

    deadline = time.time() + 10
    while not orphaned() and time.time() < deadline:
        time.sleep(0.1)
    (orphan,) = orphaned()
    stopped = stop_orphaned_ray_processes()
    assert orphan in stopped
    deadline = time.time() + 10
    while pids_titled(title) and time.time() < deadline:
        time.sleep(0.1)
    assert not pids_titled(title)
