"""The shard store on an S3-compatible object store (moto's server, run locally).

Tune's storage on S3 is tested end to end by the smoke sweep submitted with ``ray job submit``
(tests/test_e2e.py).
"""

import json

import numpy as np
import pytest

from conftest import S3_ENV


def test_engine_writes_lists_and_resumes_shards_on_s3(s3, tmp_path):
    """The actor's write path and the resume scan, against the object store (no Ray needed)."""
    from raysynth import storage
    from raysynth.config import GenerationConfig
    from raysynth.generate import ClassInfo, plan_clips
    from raysynth.generate.engine import ShardWriter, chunk_plan, existing_ids
    from raysynth.schemas import read_provenance
    from raysynth.train.data import load_synthetic

    store = "s3://raysynth/synthetic/toy/audiogen/label"
    config = GenerationConfig(tiny=True, duration_s=0.2, batch_size=4, num_gpus=0, top_k=20)
    classes = [ClassInfo("dog", 0, "dog"), ClassInfo("rain", 1, "rain")]
    recipe = {"generator": "audiogen", "model_id": "raysynth/tiny-audiogen", "top_k": 20}
    plan = plan_clips("toy", classes, recipe, "label", 4, 0)
    writer = ShardWriter(config.model_dump_json(), store, 16000, {"spec_hash": "abc"})
    first, rest = chunk_plan(plan, 4, set())[:1], chunk_plan(plan, 4, set())[1:]
    out = writer({"chunk": np.array([__import__("json").dumps(c) for c in first])})
    assert out["shard"][0].startswith("s3://raysynth/synthetic/toy/audiogen/label/part-")
    assert len(existing_ids(store)) == 4
    # Resume: only the chunks not on the store are left to do.
    left = chunk_plan(plan, 4, existing_ids(store))
    assert [[r["id"] for r in c] for c in left] == [[r["id"] for r in c] for c in rest]
    writer({"chunk": np.array([__import__("json").dumps(c) for c in left])})
    assert existing_ids(store) == {row["id"] for row in plan}
    files = storage.list_files(store)
    assert len(files) == 2 and all(f.startswith("s3://") for f in files)
    table = load_synthetic(store, plan[0]["recipe"], 0, {"dog": 3, "rain": 4})
    assert table.num_rows == 7
    local = storage.download_tree("s3://raysynth/synthetic", tmp_path / "copy")
    assert read_provenance(next(local.rglob("part-*.parquet")))["spec_hash"] == "abc"


def test_unreachable_store_is_a_clear_error(monkeypatch):
    from raysynth import storage

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(storage.StorageError, match="cannot list the shard store s3://raysynth/x"):
        storage.list_files("s3://raysynth/x")


def test_hugging_face_datasets_opens_shards_and_manifests_as_audio_with_label_names(tmp_path):
    """load_dataset("parquet") gives decoded audio at the right rate and named labels, with no cast."""
    import datasets
    import numpy as np
    import soundfile as sf

    from raysynth.config import GenerationConfig
    from raysynth.datasets.manifest import ClipSource, write_manifest
    from raysynth.generate.engine import ShardWriter
    from raysynth.generate.plan import ClassInfo, plan_clips
    from raysynth.generators import generation_recipe

    sources = []
    for label_id, label in enumerate(["dog", "rain"]):
        path = tmp_path / f"{label}.wav"
        sf.write(
            path, (0.1 * np.random.default_rng(label_id).standard_normal(8000)).astype(np.float32), 16000
        )
        sources.append(ClipSource(f"c/{label}", path, "train", label, label_id, label))
    report = write_manifest("c", sources, tmp_path / "manifest", 8000)
    config = GenerationConfig(generator="audiogen", tiny=True, duration_s=0.5, batch_size=4)
    classes = [ClassInfo("dog", 0, "dog"), ClassInfo("rain", 1, "rain")]
    plan = plan_clips("c", classes, generation_recipe(config), "label", 2, 0)
    writer = ShardWriter(config.model_dump_json(), str(tmp_path / "shards"), 8000, {}, ["dog", "rain"])
    writer({"chunk": np.array([json.dumps(plan)])})
    for files in (str(report.manifest), str(tmp_path / "shards" / "*.parquet")):
        ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
        assert ds.features["audio"] == datasets.Audio(sampling_rate=8000)
        assert ds.features["label_id"].names == ["dog", "rain"]
        clip = ds[0]["audio"]
        assert clip["sampling_rate"] == 8000 and clip["array"].ndim == 1 and clip["array"].size > 1000
        assert ds.features["label_id"].int2str(ds[0]["label_id"]) == ds[0]["label"]
