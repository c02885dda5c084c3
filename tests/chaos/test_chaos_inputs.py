"""Chaos, inputs side: bad names in a spec, unwritable stores, broken shards and manifests."""

import runpy
import sys

import pytest

from conftest import REPO_ROOT, run_sweep_job


@pytest.mark.parametrize(
    ("text", "key", "name"),
    [
        ("dataset:\n  name: esc51\n", "dataset.name", "unknown dataset 'esc51'"),
        ("dataset:\n  name: toy\ngeneration:\n  generator: audiogenn\n  tiny: true\n",
         "generation.generator audiogenn", "unknown generator 'audiogenn'"),
        ("dataset:\n  name: toy\ngrid:\n  generator: [audiogen, audioldm3]\n",
         "grid.generator audioldm3", "unknown generator 'audioldm3'"),
    ],
)  # fmt: skip
def test_unknown_names_are_refused_with_file_and_key_before_ray_starts(
    tmp_path, monkeypatch, capsys, text, key, name
):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\n" + text)
    assert run_sweep_job(["--config", str(spec), "--work-dir", str(tmp_path)], monkeypatch) == 2
    err = capsys.readouterr().err
    assert f"{spec}: {key}: " in err and name in err, err


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written into (as root, chmod is not enough: a file stands in the way)."""
    import os

    folder = tmp_path / "ro"
    if os.geteuid() == 0:
        folder.write_text("a file where a folder should be")
        yield folder / "store"
        return
    folder.mkdir()
    folder.chmod(0o500)
    yield folder
    folder.chmod(0o700)


def test_an_unwritable_shard_store_is_refused_before_any_actor_starts(
    tmp_path, read_only, monkeypatch, capsys
):
    """jobs/generate.py with --shard-store on a folder that cannot be written: one line, exit 2,
    and no generator was built (Ray's start is allowed; an actor's is not)."""
    import raysynth.generate.engine as engine

    monkeypatch.setattr(engine, "ShardWriter", None)  # an actor pool would fail on this
    monkeypatch.setattr(sys, "argv", ["generate.py", "--smoke-test", "--work-dir", str(tmp_path / "w"),
                                      "--shard-store", str(read_only)])  # fmt: skip
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO_ROOT / "jobs" / "generate.py"), run_name="__main__")
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"cannot write to {read_only}" in err, err
    assert "Traceback" not in err


def test_an_unwritable_work_dir_fails_prepare_before_decoding(shared_data, read_only, monkeypatch, capsys):
    import raysynth.datasets.manifest as manifest

    decoded = []
    real = manifest.load_audio
    monkeypatch.setattr(manifest, "load_audio", lambda *a, **k: decoded.append(a) or real(*a, **k))
    monkeypatch.setattr(
        sys, "argv", ["prepare.py", "fsdd", "--root", str(shared_data), "--work-dir", str(read_only)]
    )
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO_ROOT / "jobs" / "prepare.py"), run_name="__main__")
    err = capsys.readouterr().err
    assert info.value.code == 2 and "cannot write to" in err and str(read_only) in err, err
    assert decoded == []  # failed before decoding a single file


def test_a_full_disk_while_writing_a_shard_is_a_storage_error_naming_the_shard(tmp_path, monkeypatch):
    import errno

    import pyarrow as pa

    import raysynth.schemas as schemas
    from raysynth import storage

    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(schemas.pq, "write_table", full)
    target = tmp_path / "shards" / "part-x.parquet"
    with pytest.raises(storage.StorageError, match=r"cannot write .*part-x.parquet: No space left on device"):
        storage.write_table(pa.table({"a": [1]}), target)
    assert list((tmp_path / "shards").glob("*")) == []  # no half-written shard, no temporary left


def test_the_smoke_preset_never_writes_into_a_given_data_root(tmp_path):
    from raysynth.cli import smoke_spec
    from raysynth.config import load_spec
    from raysynth.datasets.prepare import prepare_planned
    from raysynth.inputs import resolve

    corpora = tmp_path / "real_corpora"
    r = resolve(load_spec(smoke_spec()), corpora, tmp_path / "work")
    prepare_planned(r.manifest)
    assert not corpora.exists()  # the toy corpus went under the work dir
    assert (tmp_path / "work" / "corpora").is_dir() and r.manifest.path.is_file()
