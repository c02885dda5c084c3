import os
import signal
import threading
import time

import pyarrow.parquet as pq
import pytest

from raysynth.audio import decode_flac
from raysynth.config import GenerationConfig
from raysynth.generate import ClassInfo, plan_clips, run_generation, shard_files
from raysynth.generate.engine import chunk_plan
from raysynth.schemas import SYNTH_SHARD_SCHEMA, check_schema, read_provenance

from conftest import pids_titled

CLASSES = [ClassInfo("dog", 0, "dog bark"), ClassInfo("rain", 1, "rain")]


def recipe(model="raysynth/tiny-audiogen", **settings):
    return {"generator": "audiogen", "model_id": model, "duration_s": 0.5, "top_k": 50, **settings}


def plan(n=3, seed=0, model="raysynth/tiny-audiogen", **settings):
    return plan_clips("toy", CLASSES, recipe(model, **settings), "label", n, seed, template="{label} sound")


def test_plan_ids_are_content_addressed():
    rows = plan()
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6
    assert [r["id"] for r in rows] == [r["id"] for r in plan()]
    assert {r["id"] for r in rows}.isdisjoint(r["id"] for r in plan(seed=1))
    assert {r["id"] for r in rows}.isdisjoint(r["id"] for r in plan(model="facebook/audiogen-medium"))
    assert rows[0]["prompt"] == "dog bark sound"
    assert plan(n=5)[:3] == rows[:3]  # a larger plan extends a smaller one


def test_plan_per_class_counts_and_empty_labels():
    rows = plan_clips("toy", CLASSES, recipe(), "label", {"dog": 2, "rain": 1}, 0)
    assert [r["label"] for r in rows] == ["dog", "dog", "rain"]
    with pytest.raises(ValueError, match="label list is empty"):
        plan_clips("toy", [], recipe(), "label", 1, 0)


def test_chunks_keep_boundaries_after_resume():
    rows = plan(n=5)
    done = {rows[0]["id"], rows[1]["id"], rows[2]["id"], rows[3]["id"]}
    chunks = chunk_plan(rows, 4, done)
    assert [len(c) for c in chunks] == [4, 2]
    assert chunks[0][0]["id"] == rows[4]["id"]


@pytest.mark.e2e
def test_ray_generation_writes_shards_once(ray_session, tmp_path):
    config = GenerationConfig(tiny=True, duration_s=0.5, batch_size=4, num_gpus=0, concurrency=1, top_k=50)
    rows = plan(n=3)
    first = run_generation(rows, tmp_path, config, sample_rate=8000, recipe=recipe(), spec_hash="abc")
    assert (first.planned, first.written, first.skipped) == (6, 6, 0)
    files = shard_files(tmp_path)
    assert len(files) == 2 and not list(tmp_path.glob(".tmp-*"))
    table = pq.read_table(files)
    check_schema(table.schema, SYNTH_SHARD_SCHEMA, "shard")
    assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in rows)
    record = table.to_pylist()[0]
    wave, sr = decode_flac(record["audio"]["bytes"])
    assert sr == 8000 == record["sample_rate"] and wave.size == record["num_samples"] == 4000
    provenance = read_provenance(files[0])
    assert provenance["spec_hash"] == "abc" and "torch" in provenance["packages"]
    assert provenance["recipe"] == recipe() and (tmp_path / "recipe.json").is_file()

    again = run_generation(rows, tmp_path, config, sample_rate=8000)
    assert (again.written, again.skipped) == (0, 6)
    assert shard_files(tmp_path) == files

    # A bigger plan over the same folder, with its generator actor killed mid-run: Ray restarts the
    # actor and retries its batch; every clip ends up written exactly once.
    bigger = plan(n=12)
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(summary=run_generation(bigger, tmp_path, config, 8000))
    )
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline and len(shard_files(tmp_path)) < 4 and thread.is_alive():
        time.sleep(0.1)
    killed = [pid for pid in pids_titled("ShardWriter") if _kill(pid)]
    thread.join(timeout=300)
    assert killed, "found no generator actor to kill"
    summary = result["summary"]
    assert (summary.planned, summary.skipped, summary.written) == (24, 6, 18)
    ids = pq.read_table(shard_files(tmp_path), columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == sorted(r["id"] for r in bigger)  # each exactly once


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
