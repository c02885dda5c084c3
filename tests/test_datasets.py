import functools
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from raysynth.audio import decode_flac
from raysynth.datasets import DATASETS, DatasetError, get_recipe, prepare, stratified_subset
from raysynth.datasets.download import safe_extract
from raysynth.datasets.fsdd import download_fsdd, prepare_fsdd
from raysynth.datasets.sampling import EmptyClassError, require_classes
from raysynth.schemas import REAL_MANIFEST_SCHEMA, check_schema
from raysynth.testing import dummy_clip


def make_fsdd_tree(root: Path, speakers=("jackson", "nicolas"), indices=range(12), sample_rate=8000) -> Path:
    """A fixture tree in FSDD's layout: recordings/{digit}_{speaker}_{index}.wav at 8 kHz."""
    recordings = root / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for digit in range(10):
        for speaker in speakers:
            for index in indices:
                wave = dummy_clip("beep", seed=digit * 100 + index, sample_rate=sample_rate, seconds=0.3)
                sf.write(recordings / f"{digit}_{speaker}_{index}.wav", wave, sample_rate)
    return root / "fsdd"


def test_prepare_fsdd_fixture_tree_schema_and_splits(tmp_path):
    corpus = make_fsdd_tree(tmp_path / "data")
    (corpus / "recordings" / "3_jackson_11.wav").write_bytes(b"RIFF not really a wav")
    (corpus / "recordings" / "README.txt").write_text("ignored")
    report = prepare_fsdd(corpus, tmp_path / "work")
    table = pq.read_table(report.manifest)
    check_schema(table.schema, REAL_MANIFEST_SCHEMA, "manifest")
    assert report.clips == 10 * 2 * 12 - 1
    assert [name for name, _ in report.skipped] == ["3_jackson_11.wav"]
    rows = table.to_pylist()
    split_of = {row["id"]: row["split"] for row in rows}
    assert split_of["fsdd/0_jackson_4"] == "test"
    assert split_of["fsdd/0_jackson_5"] == "valid"
    assert split_of["fsdd/0_jackson_10"] == "train"
    row = next(r for r in rows if r["id"] == "fsdd/7_nicolas_2")
    assert (row["label"], row["label_id"], row["label_text"], row["speaker"]) == ("7", 7, "seven", "nicolas")
    assert row["orig_sample_rate"] == 8000 and row["sample_rate"] == 16000
    wave, sr = decode_flac(row["audio"]["bytes"])
    assert sr == 16000 and wave.size == row["num_samples"] == 4800


def test_fsdd_real_recordings(shared_data, tmp_path):
    report = prepare_fsdd(shared_data / "fsdd", tmp_path)
    assert report.clips == 3000 and not report.skipped
    assert report.per_split == {"test": 300, "valid": 300, "train": 2400}
    assert set(report.per_class.values()) == {300}
    assert report.orig_sample_rates == {8000: 3000}
    table = pq.read_table(report.manifest, columns=["speaker", "split"]).to_pylist()
    assert len({r["speaker"] for r in table if r["split"] == "test"}) == 6


def test_missing_root_says_where_and_how(tmp_path):
    with pytest.raises(DatasetError) as info:
        prepare("fsdd", tmp_path / "nowhere", tmp_path / "work")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "fsdd") in message
    assert "python jobs/prepare.py fsdd --download" in message


def test_no_root_at_all_says_how_to_set_it(tmp_path):
    with pytest.raises(DatasetError, match=r"--data-root.*RAYSYNTH_DATA"):
        prepare("fsdd", None, tmp_path / "work")


def test_empty_root_dir_is_an_error(tmp_path):
    (tmp_path / "data" / "fsdd").mkdir(parents=True)
    with pytest.raises(DatasetError, match="missing or empty"):
        prepare("fsdd", tmp_path / "data", tmp_path / "work")


def test_unknown_dataset_lists_registered():
    with pytest.raises(DatasetError) as info:
        get_recipe("esc-50")
    assert "fsdd" in str(info.value) and "toy" in str(info.value)
    assert set(DATASETS) >= {"fsdd", "toy"}


@pytest.fixture
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_fsdd_from_local_server(http_server, tmp_path):
    served, base = http_server
    source = make_fsdd_tree(tmp_path / "src", speakers=("theo",), indices=range(3))
    with zipfile.ZipFile(served / "master.zip", "w") as zf:
        for wav in sorted((source / "recordings").glob("*.wav")):
            zf.write(wav, f"free-spoken-digit-dataset-master/recordings/{wav.name}")
        zf.writestr("free-spoken-digit-dataset-master/README.md", "FSDD")
    corpus = download_fsdd(tmp_path / "data", url=f"{base}/master.zip")
    assert len(list((corpus / "recordings").glob("*.wav"))) == 30
    assert prepare_fsdd(corpus, tmp_path / "work").clips == 30


def test_download_unreachable_is_clear(tmp_path):
    with pytest.raises(DatasetError, match="cannot download .*network"):
        download_fsdd(tmp_path, url="http://127.0.0.1:9/nothing.zip")


def test_safe_extract_refuses_path_traversal(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", "gotcha")
    with pytest.raises(DatasetError, match="outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_sampler_is_stratified_seeded_and_nested():
    ids = [f"c{c}-{i}" for c in range(4) for i in range(40)]
    labels = [f"c{c}" for c in range(4) for _ in range(40)]
    previous: set[str] = set()
    for fraction in (0.05, 0.1, 0.2, 0.5, 1.0):
        subset = stratified_subset(ids, labels, fraction, seed=3)
        assert previous <= set(subset)
        counts = np.unique([s.split("-")[0] for s in subset], return_counts=True)[1]
        assert set(counts) == {max(1, round(fraction * 40))}
        previous = set(subset)
    assert stratified_subset(ids, labels, 0.5, seed=3) == stratified_subset(ids, labels, 0.5, seed=3)
    assert stratified_subset(ids, labels, 0.5, seed=3) != stratified_subset(ids, labels, 0.5, seed=4)
    assert stratified_subset(ids, labels, 0.0, seed=3) == []


def test_empty_class_names_class_and_fraction():
    with pytest.raises(EmptyClassError, match=r"'dog'.*real_fraction=0.05"):
        require_classes(["cat"], ["cat", "dog"], 0.05, "m.parquet")
