"""Chaos, generation: a failing batch, a full disk, a killed actor, two runs at once, broken shards.

(A generator actor killed mid-run is tests/test_generate.py::test_ray_generation_writes_shards_once;
a driver killed and resumed is tests/test_resume.py.) Faults are injected through ``$RAYSYNTH_CHAOS`` (see ``raysynth.generate.engine._chaos``), passed
to the generator actors in their runtime environment. After every fault, a rerun ends with every
planned clip present exactly once.
"""

import threading

import pyarrow.parquet as pq
import pytest

from raysynth.config import GenerationConfig
from raysynth.generate import ClassInfo, GenerationFailed, existing_ids, run_generation, shard_files
from raysynth.generate.plan import plan_clips
from raysynth.storage import StorageError

CLASSES = [ClassInfo(name, i, name) for i, name in enumerate(["dog bark", "siren", "rain", "engine"])]


def plan(n=4):
    recipe = {"generator": "audiogen", "model_id": "raysynth/tiny-audiogen", "duration_s": 0.25, "top_k": 50}
    return plan_clips("toy", CLASSES, recipe, "label", n, 0, template="{label} sound")


def config(chaos: str | None = None, concurrency: int = 1) -> GenerationConfig:
    env = {"env_vars": {"RAYSYNTH_CHAOS": chaos}} if chaos else None
    return GenerationConfig(tiny=True, duration_s=0.25, batch_size=4, num_gpus=0, concurrency=concurrency,
                            top_k=50, runtime_env=env)  # fmt: skip


def ids_in(folder) -> list[str]:
    files = shard_files(folder)
    return pq.read_table(files, columns=["id"]).column("id").to_pylist() if files else []


def assert_every_clip_once(folder, rows):
    ids = ids_in(folder)
    assert sorted(ids) == sorted(r["id"] for r in rows) and len(ids) == len(set(ids))
    assert not list(folder.glob(".tmp-*"))  # no torn shard left


@pytest.mark.e2e
@pytest.mark.parametrize("action", ["raise", pytest.param("enospc", marks=pytest.mark.slow)])
def test_a_failing_batch_stops_with_one_clear_error_and_a_rerun_completes(ray_session, tmp_path, action):
    rows = plan()
    victim = rows[9]["id"]  # in the third batch of four
    with pytest.raises(GenerationFailed) as info:
        run_generation(rows, tmp_path, config(f"{action}:{victim}"), sample_rate=8000)
    message = str(info.value)
    assert (
        f"generation into {tmp_path} failed in a batch" in message and "run the same command again" in message
    )
    assert (
        "No space left on device" if action == "enospc" else f"injected fault in the batch of clip {victim}"
    ) in message
    assert victim not in ids_in(tmp_path) and len(set(ids_in(tmp_path))) == len(ids_in(tmp_path))
    again = run_generation(rows, tmp_path, config(), sample_rate=8000)
    assert again.skipped == len(ids_in(tmp_path)) - again.written
    assert_every_clip_once(tmp_path, rows)


@pytest.mark.e2e
@pytest.mark.slow  # 40-60 s: in the slow step of .ci/run, which CI always runs
def test_two_runs_of_one_plan_at_once_leave_no_duplicate_and_no_torn_shard(ray_session, tmp_path):
    """Both runs plan the same ids; shards are named by their content, so the two writers of a batch
    write one file (an atomic rename over an identical one)."""
    rows = plan()
    results, errors = [], []

    def run() -> None:
        try:
            results.append(run_generation(rows, tmp_path, config(), 8000))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    runs = [threading.Thread(target=run) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=300)
    assert errors == [] and len(results) == 2
    assert_every_clip_once(tmp_path, rows)


def test_a_truncated_shard_is_named_and_refused(tmp_path):
    from raysynth.testing import dummy_shard

    data = dummy_shard(tmp_path / "whole" / "part-whole.parquet", clips_per_class=1).read_bytes()
    (tmp_path / "part-cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(StorageError, match=r"part-cut.parquet is not a readable Parquet file.*Delete it"):
        existing_ids(tmp_path)


def test_a_corrupt_flac_cell_is_named_and_refused(tmp_path):
    from raysynth.datasets import DatasetError
    from raysynth.testing import dummy_shard
    from raysynth.train.data import decode_rows

    table = pq.read_table(dummy_shard(tmp_path / "part-x.parquet", clips_per_class=1))
    audio = table.column("audio").to_pylist()
    audio[2] = {**audio[2], "bytes": b"fLaC" + b"\x00" * 40}
    broken = table.set_column(table.schema.get_field_index("audio"), "audio", [audio])
    with pytest.raises(
        DatasetError, match=r"1 clip\(s\) whose audio cannot be decoded, first: synth/dummy/0/"
    ):
        decode_rows(broken, 8000, 16000)


def test_a_shard_with_a_foreign_schema_is_named_and_refused(tmp_path):
    import pyarrow as pa

    from raysynth.schemas import SchemaError

    pq.write_table(pa.table({"id": [1, 2], "wav": [b"x", b"y"]}), tmp_path / "part-foreign.parquet")
    with pytest.raises(SchemaError, match=r"part-foreign.parquet: .*column 'id' is int64, expected string"):
        existing_ids(tmp_path)
