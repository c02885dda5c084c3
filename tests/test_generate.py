import pyarrow.parquet as pq
import pytest

from raysynth.audio import decode_flac
from raysynth.config import GenerationConfig
from raysynth.generate import ClassInfo, existing_ids, plan_clips, run_generation, shard_files
from raysynth.generate.engine import chunk_plan
from raysynth.schemas import SYNTH_SHARD_SCHEMA, check_schema, read_provenance

CLASSES = [ClassInfo("dog", 0, "dog bark"), ClassInfo("rain", 1, "rain")]


def plan(n=3, seed=0, model="raysynth/tiny-audiogen"):
    return plan_clips("toy", CLASSES, "audiogen", model, "label", n, seed, "{label} sound")


def test_plan_ids_are_content_addressed():
    rows = plan()
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6
    assert [r["id"] for r in rows] == [r["id"] for r in plan()]
    assert {r["id"] for r in rows}.isdisjoint(r["id"] for r in plan(seed=1))
    assert {r["id"] for r in rows}.isdisjoint(r["id"] for r in plan(model="facebook/audiogen-medium"))
    assert rows[0]["prompt"] == "dog bark sound"
    assert plan(n=5)[:3] == rows[:3]  # a larger plan extends a smaller one


def test_plan_per_class_counts_and_empty_labels():
    rows = plan_clips("toy", CLASSES, "audiogen", "m", "label", {"dog": 2, "rain": 1}, 0)
    assert [r["label"] for r in rows] == ["dog", "dog", "rain"]
    with pytest.raises(ValueError, match="label list is empty"):
        plan_clips("toy", [], "audiogen", "m", "label", 1, 0)


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
    first = run_generation(rows, tmp_path, config, sample_rate=8000, spec_hash="abc")
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

    again = run_generation(rows, tmp_path, config, sample_rate=8000)
    assert (again.written, again.skipped) == (0, 6)
    assert shard_files(tmp_path) == files

    bigger = run_generation(plan(n=4), tmp_path, config, sample_rate=8000)
    assert (bigger.written, bigger.skipped) == (2, 6)
    assert len(existing_ids(tmp_path)) == 8
