"""The smoke sweep with its whole work dir on S3 (moto's server): manifests, the toy corpus's noise
manifest, shards, teachers, score tables and Tune's results are all objects, and nothing the platform
makes is written under a local path. A second run on a fresh node cache reuses every artifact from the
store. ``slow``: two smoke sweeps and a report, about four minutes on 2 cores.

Each job runs in a subprocess with its own empty working directory, home and temp dir (so its local
Ray is its own too); after it, those hold only what Ray and the libraries keep for themselves (Ray's
session logs and token, matplotlib's font list, onnxruntime's device id, torch's inductor folder,
MLflow's telemetry id) and the one Ray Data logging setting the console writes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

WORK = "s3://raysynth/s3-work"
ARTIFACT_SUFFIXES = {".parquet", ".npy", ".pt", ".flac", ".wav", ".bin", ".db"}
# What Ray and the libraries keep for themselves, not the platform's: Ray's session folder and token,
# onnxruntime's device database, matplotlib's font list, MLflow's telemetry id.
LIBRARY_FOLDERS = ("ray", ".ray", ".cache/Microsoft", ".cache/matplotlib", ".config/mlflow")


def run(script: str, *args: str, env: dict, cwd) -> tuple[int, str]:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "jobs" / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def local_artifacts(root) -> list[str]:
    """Files under ``root`` the platform may have made: artifact suffixes or raysynth's names."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or any(relative.startswith(f"{folder}/") for folder in LIBRARY_FOLDERS):
            continue
        ours = "raysynth" in str(path.relative_to(root)) and not path.name.startswith(
            "raysynth-ray-data-logging"
        )
        if ours or path.suffix in ARTIFACT_SUFFIXES:
            found.append(str(path))
    return found


@pytest.mark.slow
@pytest.mark.e2e
def test_smoke_sweep_with_its_work_dir_on_s3_writes_nothing_local_and_reuses_it_all(s3, short_tmp, tmp_path):
    import pyarrow.fs as pafs

    dirs = {name: short_tmp / name for name in ("cwd", "home", "tmp")}  # Ray's sockets: paths under 108 bytes
    for folder in dirs.values():
        folder.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("RAY_ADDRESS", "RAYSYNTH_WORK", "RAYSYNTH_NODE_CACHE", "RAYSYNTH_DATA")}  # fmt: skip
    env.update(s3, HOME=str(dirs["home"]), TMPDIR=str(dirs["tmp"]), PYTHONPATH=str(REPO_ROOT))
    code, first = run(
        "sweep.py", "--smoke-test", "--work-dir", WORK, "--name", "first", env=env, cwd=dirs["cwd"]
    )
    assert code == 0, first[-4000:]
    assert "6 trial(s): 6 completed" in first and f"-> {WORK}/ray_results/first" in first, first[-3000:]
    assert f"prepare toy: 64 clips -> {WORK}/toy/" in first and "wrote 80 in" in first, first[-3000:]
    assert (
        first.count(f"-> {WORK}/quality/toy/teacher-") == 2
        and first.count(f"-> {WORK}/quality/toy/scores/") == 2
    )

    # Again, on a new node cache: every input is read back from the store, none is made again.
    code, second = run(
        "sweep.py", "--smoke-test", "--work-dir", WORK, "--name", "second", env=env, cwd=dirs["cwd"]
    )
    assert code == 0, second[-4000:]
    assert "prepare toy: manifest exists" in second and "wrote 0 in 0 shard(s)" in second, second[-3000:]
    assert "quality: teacher" not in second and "quality: scored" not in second, second[-3000:]
    assert "6 trial(s): 6 completed" in second

    fs, _ = pafs.FileSystem.from_uri(WORK)
    objects = [i.path.removeprefix("raysynth/s3-work/") for i in fs.get_file_info(
        pafs.FileSelector("raysynth/s3-work", recursive=True)) if i.type == pafs.FileType.File]  # fmt: skip
    assert sum(o.endswith("/manifest.parquet") for o in objects) == 2  # the toy set and its noise
    assert sum(o.startswith("quality/toy/teacher-") and o.endswith(".pt") for o in objects) == 2
    assert any(o.startswith("quality/toy/scores/") for o in objects)
    assert any(o.startswith("synthetic/toy/audiogen/") and o.endswith(".parquet") for o in objects)
    assert sum(o.startswith(("ray_results/first/", "ray_results/second/")) and o.endswith("params.json")
               for o in objects) == 12  # fmt: skip

    assert list(dirs["cwd"].iterdir()) == []  # no ./raysynth_work, no reports, no MLflow store
    assert local_artifacts(dirs["home"]) == [] and local_artifacts(dirs["tmp"]) == []
    assert not [p.name for p in dirs["tmp"].iterdir() if p.name.startswith("raysynth-") and p.is_dir()]

    code, report = run("report.py", f"{WORK}/ray_results/first", "--out", str(tmp_path / "report"), env=env,
                       cwd=dirs["cwd"])  # fmt: skip
    assert code == 0 and "what each accuracy point costs" in report, report[-3000:]
    assert (tmp_path / "report" / "report.html").is_file() and list(dirs["cwd"].iterdir()) == []
