"""Every artifact of a work dir on an object store (moto's S3 server), through raysynth.workspace:
written whole, read through a node cache keyed by the object's ETag, and never a local path.

The whole smoke sweep with ``--work-dir s3://`` runs in tests/test_e2e_s3.py (slow)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

WORK = "s3://raysynth/workspace-tests"


@pytest.fixture
def node_cache(tmp_path, monkeypatch):
    """This test's own node cache (the default is shared by every run on the machine)."""
    folder = tmp_path / "node-cache"
    monkeypatch.setenv("RAYSYNTH_NODE_CACHE", str(folder))
    return folder


def test_publish_then_fetch_and_a_rewritten_object_is_never_served_stale(s3, node_cache):
    from raysynth import workspace

    location = f"{WORK}/a/file.bin"
    assert not workspace.is_file(location) and workspace.read_bytes(location) is None
    workspace.write_bytes(location, b"first")
    assert workspace.is_file(location)
    first = workspace.fetch(location)
    assert first.read_bytes() == b"first" and node_cache in first.parents
    assert workspace.fetch(location) == first  # the second read is the cached copy
    workspace.write_bytes(location, b"other")  # same size, other bytes: another ETag
    second = workspace.fetch(location)
    assert second != first and second.read_bytes() == b"other"


def test_a_block_that_fails_publishes_nothing_and_leaves_no_temporary_file(s3, tmp_path, monkeypatch):
    from raysynth import workspace

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    for location in (f"{WORK}/b/half.bin", tmp_path / "local" / "half.bin"):
        with pytest.raises(RuntimeError, match="killed"):
            with workspace.publish(location) as tmp:
                tmp.write_bytes(b"half")
                raise RuntimeError("killed mid-write")
        assert not workspace.is_file(location)
    assert list((tmp_path / "tmp").iterdir()) == [] and list((tmp_path / "local").iterdir()) == []
    with workspace.publish(f"{WORK}/b/whole.bin") as tmp:
        tmp.write_bytes(b"whole")
    assert (
        workspace.read_bytes(f"{WORK}/b/whole.bin") == b"whole" and list((tmp_path / "tmp").iterdir()) == []
    )


def test_the_work_dir_takes_an_object_store_uri_and_refuses_what_is_not_one():
    from raysynth.config import (
        SpecError,
        parse_spec,
        resolve_shard_store,
        resolve_storage_path,
        resolve_work_dir,
    )

    spec = parse_spec({"name": "w", "dataset": {"name": "toy"}, "grid": {"real_fraction": 1.0}})
    assert resolve_work_dir(spec, "s3://bucket/prefix/") == "s3://bucket/prefix"
    assert resolve_shard_store(spec, "s3://bucket/prefix") == "s3://bucket/prefix/synthetic"
    assert resolve_storage_path(spec, "s3://bucket/prefix") == "s3://bucket/prefix/ray_results"
    for bad in ("ftp://host/x", "s3://"):
        with pytest.raises(SpecError, match="a work dir is a folder or an object store URI"):
            resolve_work_dir(spec, bad)


def test_tracking_without_a_server_is_refused_for_a_work_dir_on_a_store():
    from raysynth.config import SpecError
    from raysynth.sweep.target import check_tracking

    with pytest.raises(SpecError, match="set tracking_uri to an MLflow server"):
        check_tracking({"tracking": "mlflow"}, work_dir="s3://bucket/work")
    check_tracking({"tracking": "mlflow"}, work_dir="/tmp/work")  # the local SQLite default is fine


def test_a_test_only_corpus_keeps_its_manifest_name_whatever_node_cache_builds_it(s3, tmp_path, monkeypatch):
    from raysynth import workspace
    from raysynth.datasets import read_manifest
    from raysynth.datasets.prepare import plan_manifest, prepare_planned

    monkeypatch.setenv("RAYSYNTH_NODE_CACHE", str(tmp_path / "one"))
    plan = plan_manifest("toy", None, WORK)
    monkeypatch.setenv("RAYSYNTH_NODE_CACHE", str(tmp_path / "two"))
    again = plan_manifest("toy", None, WORK)
    assert plan.path == again.path and str(plan.path).startswith(f"{WORK}/toy/")
    assert plan.corpus_dir != again.corpus_dir  # built in each node's own cache
    report = prepare_planned(again)
    assert report.manifest == again.path and workspace.is_file(again.path)
    assert workspace.is_file(f"{workspace.parent(again.path)}/recipe.json")
    assert read_manifest(again.path).num_rows == report.clips
    assert "manifest exists" in prepare_planned(again).notes[0]


def test_features_teachers_scores_and_descriptions_live_on_the_store(s3, node_cache, tmp_path):
    from raysynth import storage, workspace
    from raysynth.prompts.llm import DescriptionSet
    from raysynth.quality.scoring import score_parts, scored_ids
    from raysynth.quality.teacher import Teacher, TeacherPlan, check_teacher, train_teacher
    from raysynth.storage import CorruptArtifact, load_checkpoint
    from raysynth.testing.dummies import dummy_manifest
    from raysynth.train.views import FeatureCache

    cache = FeatureCache(f"{WORK}/features")
    calls = []
    array = cache.get("k", lambda: calls.append(1) or np.arange(6, dtype=np.float32).reshape(2, 3))
    again = FeatureCache(f"{WORK}/features").get("k", lambda: calls.append(1) or np.zeros(1))
    assert calls == [1] and np.array_equal(array, again) and workspace.is_file(f"{WORK}/features/k.npy")

    manifest = f"{WORK}/toy/m/manifest.parquet"
    with workspace.publish(manifest) as tmp:
        dummy_manifest(tmp)
    plan = TeacherPlan(f"{WORK}/quality/t/fold-None.pt", manifest, None, 16000, 1.0, 32, 1)
    assert not check_teacher(plan)
    train_teacher(plan)
    assert check_teacher(plan) and Teacher.load(plan.path).class_names
    assert not any(p.suffix == ".pt" for p in tmp_path.rglob("*") if node_cache not in p.parents)

    class Code:  # a pickle that would run code when read
        def __reduce__(self):
            return (print, ("ran",))

    workspace.write_bytes(f"{WORK}/quality/t/evil.pt", pickle.dumps({"model": Code()}))
    with pytest.raises(CorruptArtifact, match="cannot be read as a checkpoint"):
        load_checkpoint(workspace.fetch(f"{WORK}/quality/t/evil.pt"), "teacher")

    folder = f"{WORK}/quality/scores/r/teacher-x"
    import pyarrow as pa

    from raysynth.quality.scoring import SCORE_SCHEMA

    storage.write_table(pa.table({"id": ["a"], "label": ["dog"], "score": [0.5], "margin": [0.1]},
                                 schema=SCORE_SCHEMA), f"{folder}/part-good.parquet")  # fmt: skip
    workspace.write_bytes(f"{folder}/part-bad.parquet", b"not parquet")
    assert scored_ids(folder) == {"a"}
    assert [workspace.name(p) for p in score_parts(folder)] == ["part-good.parquet"]
    assert workspace.is_file(f"{folder}/corrupt-part-bad.parquet")  # set aside, its clips scored again

    DescriptionSet({"dog": ["a dog barks"]}, {"method": "llm"}).save(f"{WORK}/descriptions/toy.json")
    assert DescriptionSet.load(f"{WORK}/descriptions/toy.json").descriptions == {"dog": ["a dog barks"]}


def test_a_model_assembled_from_packages_goes_to_each_nodes_cache_with_a_work_dir_on_a_store(node_cache):
    from raysynth.config import GenerationConfig
    from raysynth.inputs.resolve import GenerationJob, _with_model_cache
    from raysynth.workspace import CACHE_MODELS, local_folder

    job = GenerationJob(generator="kokoro", strategy="label", variant=None, config=GenerationConfig(), recipe={},
                        folder="s3://b/k", template="{label}", descriptions=None, llm_k=1, train_multiplier=1.0,
                        per_class=0, draws=(0,), valid_per_class=0)  # fmt: skip
    assert _with_model_cache(job, "s3://bucket/work").config.model_cache == CACHE_MODELS
    assert local_folder(CACHE_MODELS) == node_cache / "models"
    assert _with_model_cache(job, node_cache.parent / "work").config.model_cache == str(
        node_cache.parent / "work" / "models"
    )
