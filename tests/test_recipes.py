"""Every recipe on a fixture tree built here in its official layout and naming, quirks included."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from raysynth.datasets import DATASETS, DatasetError, get_recipe, prepare
from raysynth.datasets.crema_d import prepare_crema_d
from raysynth.datasets.emodb import prepare_emodb
from raysynth.datasets.esc50 import prepare_esc10, prepare_esc50
from raysynth.datasets.gtzan import prepare_gtzan
from raysynth.datasets.iemocap import prepare_iemocap
from raysynth.datasets.noise import prepare_noise
from raysynth.datasets.ravdess import prepare_ravdess
from raysynth.datasets.speech_commands import prepare_speech_commands, prepare_speech_commands12
from raysynth.datasets.tess import prepare_tess
from raysynth.datasets.ucf101 import prepare_ucf101
from raysynth.datasets.us8k import prepare_us8k
from raysynth.schemas import REAL_MANIFEST_SCHEMA, check_schema


def tone(path: Path, seconds=0.2, sample_rate=16000, channels=1, subtype=None, fmt=None, seed=0):
    rng = np.random.default_rng(seed)
    wave = 0.3 * rng.standard_normal((int(seconds * sample_rate), channels)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sample_rate, subtype=subtype, format=fmt)
    return path


def rows_of(report):
    table = pq.read_table(report.manifest)
    check_schema(table.schema, REAL_MANIFEST_SCHEMA, str(report.manifest))
    return table.to_pylist()


def test_every_recipe_is_registered_and_documented():
    expected = {"esc50", "esc10", "us8k", "gtzan", "ucf101", "speech_commands", "speech_commands12"}
    expected |= {"iemocap", "crema_d", "ravdess", "tess", "emodb", "fsdd"}
    assert expected <= set(DATASETS)
    for name in expected:
        recipe = DATASETS[name]
        assert recipe.url and recipe.layout and "{label}" in recipe.prompt_template
        assert __import__(recipe.prepare.__module__, fromlist=["_"]).__doc__


# --- ESC-50 / ESC-10 ---------------------------------------------------------------------------


def make_esc50(root: Path, folds=(1, 2, 3, 4, 5), drop_audio: str | None = None) -> Path:
    base = root / "ESC-50-master"
    rows = []
    for target, category, esc10 in [(0, "dog", True), (1, "rooster", False), (38, "clock_tick", True)]:
        for fold in folds:
            src = f"{100 + target * 10 + fold}"
            name = f"{fold}-{src}-A-{target}.wav"
            rows.append([name, fold, target, category, str(esc10), src, "A"])
            if name != drop_audio:
                tone(base / "audio" / name, sample_rate=44100)
    (base / "meta").mkdir(parents=True)
    with open(base / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return root


def test_esc50_folds_labels_and_esc10(tmp_path):
    corpus = make_esc50(tmp_path / "esc50")
    rows = rows_of(prepare_esc50(corpus, tmp_path / "w"))
    assert len(rows) == 15 and {r["split"] for r in rows} == {"1", "2", "3", "4", "5"}
    clock = next(r for r in rows if r["label"] == "clock_tick")
    assert (clock["label_id"], clock["label_text"], clock["orig_sample_rate"]) == (38, "clock tick", 44100)
    esc10 = rows_of(prepare_esc10(corpus, tmp_path / "w"))
    assert {(r["label"], r["label_id"]) for r in esc10} == {("dog", 0), ("clock_tick", 1)}


def test_esc50_missing_audio_fails_or_continues(tmp_path):
    corpus = make_esc50(tmp_path / "esc50", drop_audio="2-112-A-1.wav")
    with pytest.raises(DatasetError, match=r"1 metadata row\(s\).*2-112-A-1.wav.*--on-missing continue"):
        prepare_esc50(corpus, tmp_path / "w")
    report = prepare_esc50(corpus, tmp_path / "w", on_missing="continue")
    assert report.clips == 14 and report.missing == ["2-112-A-1.wav"]
    assert "metadata row(s) without audio" in report.summary()


def test_esc50_partial_folds_are_noted(tmp_path):
    report = prepare_esc50(make_esc50(tmp_path / "esc50", folds=(1, 2)), tmp_path / "w")
    assert any("missing fold(s): 3, 4, 5" in note for note in report.notes)


def test_wrong_root_names_layout_and_source(tmp_path):
    (tmp_path / "esc50" / "random").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"ESC-50-master.*github.com/karoldvl"):
        prepare_esc50(tmp_path / "esc50", tmp_path / "w")


# --- UrbanSound8K ------------------------------------------------------------------------------


def test_us8k_slice_fields_partial_folds_and_formats(tmp_path):
    base = tmp_path / "us8k" / "UrbanSound8K"
    rows = []
    for fold in (1, 2, 3):
        for class_id, name in [(3, "dog_bark"), (8, "siren")]:
            file = f"{1000 + fold}-{class_id}-0-{fold}.wav"
            rows.append([file, 1000 + fold, 0.5, 4.5, 1, fold, class_id, name])
            if fold != 3:  # fold3 folder absent: a partial copy
                tone(
                    base / "audio" / f"fold{fold}" / file,
                    sample_rate=48000 if fold == 1 else 22050,
                    channels=2,
                    subtype="PCM_24",
                )
    (base / "metadata").mkdir(parents=True)
    with open(base / "metadata" / "UrbanSound8K.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        writer.writerows(rows)
    report = prepare_us8k(tmp_path / "us8k", tmp_path / "w")
    rows = rows_of(report)
    assert report.clips == 4 and not report.missing
    assert any("fold(s) 3, 4, 5, 6, 7, 8, 9, 10 absent" in note for note in report.notes)
    assert {r["label_text"] for r in rows} == {"dog bark", "siren"}
    assert {r["orig_sample_rate"] for r in rows} == {48000, 22050} and {r["orig_channels"] for r in rows} == {
        2
    }
    assert report.orig_channels == {2: 4}


# --- GTZAN -------------------------------------------------------------------------------------


def test_gtzan_au_files_corrupt_file_and_split_file(tmp_path):
    genres = tmp_path / "gtzan" / "genres"
    for genre in ("blues", "jazz"):
        for i in range(10):
            tone(
                genres / genre / f"{genre}.{i:05d}.au", sample_rate=22050, fmt="AU", subtype="PCM_16", seed=i
            )
    (genres / "jazz" / "jazz.00054.au").write_bytes(b".snd garbage")
    report = prepare_gtzan(tmp_path / "gtzan", tmp_path / "w")
    assert report.clips == 20 and [n for n, _ in report.skipped] == ["jazz.00054.au"]
    assert Counter(r["split"] for r in rows_of(report)) == {"train": 14, "valid": 2, "test": 4}
    splits = tmp_path / "gtzan" / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("blues/blues.00000.wav\nblues.00001\n")
    (splits / "test.txt").write_text("jazz.00002\n")
    listed = prepare_gtzan(tmp_path / "gtzan", tmp_path / "w2")
    assert {(r["id"], r["split"]) for r in rows_of(listed)} == {
        ("gtzan/blues.00000", "train"),
        ("gtzan/blues.00001", "train"),
        ("gtzan/jazz.00002", "test"),
    }
    assert get_recipe("gtzan").prompt_template == "{label} music"


# --- UCF101 ------------------------------------------------------------------------------------


def make_avi(path: Path, with_audio: bool = True, seconds: float = 0.5) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="avi") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=44100, layout="stereo") if with_audio else None
        for _ in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            samples = (3000 * np.random.default_rng(0).standard_normal((2, int(44100 * seconds)))).astype(
                np.int16
            )
            frame = av.AudioFrame.from_ndarray(
                samples.reshape(1, -1, order="F"), format="s16", layout="stereo"
            )
            frame.sample_rate = 44100
            for packet in audio.encode(frame):
                container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)


def test_ucf101_official_lists_pyav_audio_and_silent_videos(tmp_path):
    root = tmp_path / "ucf101"
    train, test = [], []
    for cls in ("Typing", "BlowDryHair", "ApplyEyeMakeup"):
        for group in (1, 8, 9, 10, 11):
            entry = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
            make_avi(root / "UCF-101" / entry, with_audio=not (cls == "Typing" and group == 9))
            (test if group == 1 else train).append(entry)
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("".join(f"{e} 1\n" for e in train))
    (lists / "testlist01.txt").write_text("".join(f"{e}\n" for e in test))
    report = prepare_ucf101(root, tmp_path / "w")
    rows = rows_of(report)
    assert {r["label"] for r in rows} == {"Typing", "BlowDryHair"}  # ApplyEyeMakeup is not in the subset
    assert [n for n, _ in report.skipped] == ["v_Typing_g09_c01.avi"]
    assert {r["label_text"] for r in rows} == {"typing", "blowing dry hair"}
    assert {r["split"] for r in rows if "_g01_" in r["id"]} == {"test"}
    groups_by_split: dict[str, set] = {}
    for r in rows:
        groups_by_split.setdefault(r["split"], set()).add(r["speaker"])
    assert not groups_by_split.get("valid", set()) & groups_by_split["train"]
    assert rows[0]["orig_sample_rate"] == 44100 and rows[0]["orig_channels"] == 2


# --- Speech Commands ---------------------------------------------------------------------------


def make_speech_commands(root: Path) -> Path:
    words = ["yes", "no", "marvin", "go"]
    valid, test = [], []
    for w, word in enumerate(words):
        for s, speaker in enumerate(["0a7c2a8d", "3b4f8f24", "c0445658"]):
            rel = f"{word}/{speaker}_nohash_{w % 2}.wav"
            tone(root / rel, seconds=1.0, seed=w * 10 + s)
            (valid if s == 1 else test if s == 2 else []).append(rel)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    for name in ("white_noise", "running_tap"):
        tone(root / "_background_noise_" / f"{name}.wav", seconds=3.0)
    return root


def test_speech_commands_35_lists_and_hash_speakers(tmp_path):
    rows = rows_of(prepare_speech_commands(make_speech_commands(tmp_path / "sc"), tmp_path / "w"))
    assert len(rows) == 12 and not any("_background_noise_" in r["id"] for r in rows)
    assert Counter(r["split"] for r in rows) == {"train": 4, "valid": 4, "test": 4}
    assert {r["speaker"] for r in rows if r["split"] == "test"} == {"c0445658"}


def test_speech_commands_12_unknown_and_silence(tmp_path):
    report = prepare_speech_commands12(make_speech_commands(tmp_path / "sc"), tmp_path / "w")
    rows = rows_of(report)
    labels = Counter(r["label"] for r in rows)
    assert labels["_unknown_"] == 3 and labels["yes"] == 3 and "marvin" not in labels
    silence = [r for r in rows if r["label"] == "_silence_"]
    assert silence and all(r["num_samples"] == 16000 for r in silence)
    assert {r["label_id"] for r in rows if r["label"] == "_silence_"} == {11}


# --- Emotion corpora ---------------------------------------------------------------------------


def test_iemocap_evaluation_files_four_classes_sessions(tmp_path):
    root = tmp_path / "iemocap" / "IEMOCAP_full_release"
    for session in (1, 2):
        dialog = f"Ses0{session}F_impro01"
        lines = ["% header", ""]
        for i, emo in enumerate(["neu", "exc", "hap", "ang", "sad", "fru", "xxx"]):
            utt = f"{dialog}_{'FM'[i % 2]}{i:03d}"
            lines.append(f"[{i}.0000 - {i}.5000]\t{utt}\t{emo}\t[2.5000, 2.5000, 2.5000]")
            lines.append(f"C-E1:\t{emo};\t()")
            tone(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{utt}.wav")
        path = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(lines))
    report = prepare_iemocap(tmp_path / "iemocap", tmp_path / "w")
    rows = rows_of(report)
    assert Counter(r["label"] for r in rows) == {"happy": 4, "neutral": 2, "angry": 2, "sad": 2}
    assert {r["split"] for r in rows} == {"1", "2"}
    assert {r["speaker"] for r in rows} == {"Ses01F", "Ses01M", "Ses02F", "Ses02M"}
    assert any("Session3 absent" in n for n in report.notes)


def test_crema_d_speaker_independent(tmp_path):
    for actor in range(1001, 1011):
        for emo in ("ANG", "HAP", "NEU"):
            tone(tmp_path / "crema" / "AudioWAV" / f"{actor}_IEO_{emo}_HI.wav")
    rows = rows_of(prepare_crema_d(tmp_path / "crema", tmp_path / "w"))
    by_split: dict[str, set] = {}
    for r in rows:
        by_split.setdefault(r["split"], set()).add(r["speaker"])
    assert set(by_split) == {"train", "valid", "test"}
    assert sum(len(v) for v in by_split.values()) == 10  # every actor in exactly one split


def test_ravdess_actor_split(tmp_path):
    for actor in (1, 2, 19, 21):
        for emo in (1, 5, 8):
            tone(tmp_path / "ravdess" / f"Actor_{actor:02d}" / f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav")
    rows = rows_of(prepare_ravdess(tmp_path / "ravdess", tmp_path / "w"))
    assert {(r["speaker"], r["split"]) for r in rows} == {
        ("01", "train"),
        ("02", "train"),
        ("19", "valid"),
        ("21", "test"),
    }
    assert {r["label"] for r in rows} == {"neutral", "angry", "surprised"}


def test_tess_folder_name_quirks(tmp_path):
    for folder in ("OAF_angry", "OAF_Pleasant_surprise", "YAF_pleasant_surprised", "OAF_Fear", "YAF_fear"):
        for i in range(5):
            tone(
                tmp_path / "tess" / "TESS Toronto emotional speech set data" / folder / f"{folder}_{i}.wav",
                seed=i,
            )
    rows = rows_of(prepare_tess(tmp_path / "tess", tmp_path / "w"))
    assert Counter(r["label"] for r in rows) == {"pleasant surprise": 10, "fear": 10, "angry": 5}
    assert {r["speaker"] for r in rows} == {"OAF", "YAF"}


def test_emodb_real_recordings(shared_data, tmp_path):
    report = prepare_emodb(shared_data / "emodb", tmp_path)
    rows = rows_of(report)
    assert report.clips == 535 and not report.skipped
    assert Counter(r["label"] for r in rows) == {
        "anger": 127,
        "boredom": 81,
        "neutral": 79,
        "happiness": 71,
        "fear": 69,
        "sadness": 62,
        "disgust": 46,
    }
    speakers_by_fold: dict[str, set] = {}
    for r in rows:
        speakers_by_fold.setdefault(r["split"], set()).add(r["speaker"])
    assert len(speakers_by_fold) == 5 and all(len(s) == 2 for s in speakers_by_fold.values())


# --- Noise -------------------------------------------------------------------------------------


def test_noise_real_recordings_split_by_file(shared_data, tmp_path):
    directory = shared_data / "noise_speech_commands" / "_background_noise_"
    report = prepare(f"noise:{directory}", None, tmp_path, test_files=["running_tap"])
    rows = rows_of(report)
    assert {r["label"] for r in rows if r["split"] == "test"} == {"running_tap"}
    assert "running_tap" not in {r["label"] for r in rows if r["split"] == "train"}
    assert all(r["num_samples"] <= 5 * 16000 for r in rows) and len(rows) > 60
    default = prepare_noise(directory, tmp_path / "d")
    test_files = {r["label"] for r in rows_of(default) if r["split"] == "test"}
    assert len(test_files) == 2  # a seeded third of the 6 files


def test_noise_rejects_silent_and_empty_files(tmp_path):
    tone(tmp_path / "n" / "hum.wav", seconds=2.0)
    sf.write(tmp_path / "n" / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "n" / "empty.wav", np.zeros(0, np.float32), 16000)
    report = prepare_noise(tmp_path / "n", tmp_path / "w", segment_seconds=1.0, test_files=["hum"])
    assert sorted(n for n, _ in report.skipped) == ["empty.wav", "silent.wav"]
    assert "SNR would be undefined" in report.summary()


def test_zero_length_and_odd_rate_clips(tmp_path):
    for i in range(12):
        tone(
            tmp_path / "ravdess" / "Actor_01" / f"03-01-01-01-01-{i + 1:02d}-01.wav",
            sample_rate=11025 if i else 16000,
        )
    sf.write(tmp_path / "ravdess" / "Actor_01" / "03-01-02-01-01-01-01.wav", np.zeros(0, np.float32), 16000)
    report = prepare_ravdess(tmp_path / "ravdess", tmp_path / "w")
    assert report.clips == 12 and report.skipped == [("03-01-02-01-01-01-01.wav", "zero-length audio")]
    assert report.orig_sample_rates == {16000: 1, 11025: 11}


def test_esc50_download_from_local_server(tmp_path):
    import functools
    import http.server
    import threading
    import zipfile

    from raysynth.datasets.esc50 import download_esc50

    source = make_esc50(tmp_path / "src")
    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "master.zip", "w") as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        corpus = download_esc50(
            tmp_path / "data", url=f"http://127.0.0.1:{server.server_address[1]}/master.zip"
        )
    finally:
        server.shutdown()
    assert prepare_esc50(corpus, tmp_path / "w").clips == 15


def test_prepare_cli_prints_summary(shared_data, tmp_path, monkeypatch, capsys):
    import runpy
    import sys

    from conftest import REPO_ROOT

    monkeypatch.setattr(
        sys, "argv", ["prepare.py", "emodb", "--root", str(shared_data), "--work-dir", str(tmp_path)]
    )
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO_ROOT / "jobs" / "prepare.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "emodb: 535 clips" in out and "anger=127" in out and "16000 Hz x535" in out


# --- Corpora as users have them: unused files, test-only releases, speakers, partial folds ------


def make_tess(root: Path, sample_rate=16000, per_class=5) -> Path:
    base = root / "TESS Toronto emotional speech set data"
    for speaker in ("OAF", "YAF"):
        for emotion in ("angry", "fear", "Pleasant_surprise"):
            for i in range(per_class):
                tone(base / f"{speaker}_{emotion}" / f"{speaker}_word{i}_{emotion.lower()}.wav",
                     sample_rate=sample_rate, seed=i)  # fmt: skip
    return root


def test_tess_files_outside_its_layout_are_counted_with_a_reason(tmp_path):
    corpus = make_tess(tmp_path / "tess")
    for i in range(4):  # a flat folder of renamed copies, as some TESS mirrors ship
        tone(corpus / "TESS Toronto emotional speech set data" / "renamed" / f"{i:03d}.wav", seed=i)
    tone(corpus / "stray.wav")
    report = prepare_tess(corpus, tmp_path / "w")
    assert report.clips == 30 and len(report.unused) == 5
    reasons = Counter(why for _, why in report.unused)
    assert reasons["folder is not <SPEAKER>_<emotion> (speaker and emotion unknown)"] == 4
    assert reasons["not in a <SPEAKER>_<emotion> folder"] == 1
    assert "not used: 5 file(s) the recipe saw" in report.summary()


def test_tess_speakers_folds_leave_one_speaker_out(tmp_path):
    from raysynth.datasets.tess import prepare_tess_speakers
    from raysynth.train.data import load_real

    corpus = make_tess(tmp_path / "tess", per_class=10)
    mixed = prepare_tess(corpus, tmp_path / "mixed")
    assert mixed.shared_speakers == 2 and "speakers heard in more than one split: 2" in mixed.summary()
    report = prepare_tess_speakers(corpus, tmp_path / "folds")
    assert report.shared_speakers == 0
    rows = rows_of(report)
    assert Counter(r["split"] for r in rows) == {"1": 27, "1-valid": 3, "2": 27, "2-valid": 3}
    data = load_real(report.manifest, 1.0, seed=0, fold=1)
    assert set(data.test.column("speaker").to_pylist()) == {"OAF"} and data.test.num_rows == 30
    assert set(data.train.column("speaker").to_pylist()) == {"YAF"} and data.train.num_rows == 27
    assert set(data.valid.column("speaker").to_pylist()) == {"YAF"} and data.valid.num_rows == 3
    assert get_recipe("tess_speakers").corpus_name == "tess" and get_recipe("tess_speakers").folds == 2


def test_speech_commands_folders_without_words_are_counted(tmp_path):
    corpus = make_speech_commands(tmp_path / "sc")
    tone(corpus / "_extra_" / "a.wav"), tone(corpus / "_old_" / "b.wav")
    report = prepare_speech_commands(corpus, tmp_path / "w")
    reasons = dict(report.unused)
    assert reasons["_extra_/a.wav"] == "in _extra_/, a folder that holds no word"
    assert reasons["_old_/b.wav"] == "in _old_/, a folder that holds no word"
    assert reasons["_background_noise_/white_noise.wav"] == "background noise, not an utterance"


def test_speech_commands_test_set_release_is_a_test_only_corpus(tmp_path):
    from raysynth.inputs.synthetic import manifest_classes

    root = tmp_path / "sc_test"
    for i, word in enumerate(["yes", "no", "left"]):
        tone(root / word / f"{i:08x}_nohash_0.wav", seconds=1.0, seed=i)
    tone(root / "_unknown_" / "bed_0c40e715_nohash_0.wav", seconds=1.0)
    tone(root / "_unknown_" / "cat_0c40e716_nohash_1.wav", seconds=1.0)
    tone(root / "_silence_" / "silence_0.wav", seconds=1.0)
    rows = rows_of(prepare_speech_commands(root, tmp_path / "w35"))
    assert {r["split"] for r in rows} == {"test"}
    assert Counter(r["label"] for r in rows) == {"yes": 1, "no": 1, "left": 1, "bed": 1, "cat": 1}
    report = prepare_speech_commands12(root, tmp_path / "w12")
    rows = rows_of(report)
    assert {r["split"] for r in rows} == {"test"}
    assert Counter(r["label"] for r in rows) == {"yes": 1, "no": 1, "left": 1, "_unknown_": 2, "_silence_": 1}
    assert any("test-set release" in note for note in report.notes)
    _, counts = manifest_classes(report.manifest)
    assert counts["_unknown_"] == 2


def test_two_files_with_one_clip_id_are_an_error_naming_both(tmp_path):
    from raysynth.datasets.manifest import ClipSource, write_manifest

    a, b = tone(tmp_path / "a" / "x.wav"), tone(tmp_path / "b" / "x.wav")
    sources = [ClipSource("c/x", a, "train", "l", 0, "l"), ClipSource("c/x", b, "train", "l", 0, "l")]
    with pytest.raises(DatasetError, match="same clip id") as info:
        write_manifest("c", sources, tmp_path / "w", 16000)
    assert str(a) in str(info.value) and str(b) in str(info.value)


def test_near_empty_fold_is_flagged_and_a_class_without_validation_clips_stops(tmp_path):
    from raysynth.train.data import load_real

    corpus = make_esc50(tmp_path / "esc50", drop_audio="2-102-A-0.wav")  # fold 2 loses its one dog
    report = prepare_esc50(corpus, tmp_path / "w", on_missing="continue")
    assert "split 2 has no clip of: dog" in report.notes
    with pytest.raises(DatasetError, match=r"fold 1: class\(es\) 'dog' have no validation clip"):
        load_real(report.manifest, 1.0, seed=0, fold=1)  # fold 1 validates on fold 2
    with pytest.raises(DatasetError, match=r"fold 2: class\(es\) 'dog' have no test clip"):
        load_real(report.manifest, 1.0, seed=0, fold=2)
    assert load_real(report.manifest, 1.0, seed=0, fold=4).test.num_rows == 3


def test_an_odd_rate_corpus_never_builds_a_torchaudio_kernel(tmp_path, monkeypatch):
    """TESS is recorded at 24,414 Hz; torchaudio rebuilt a huge kernel for that pair on every file."""
    import soxr
    import torchaudio.functional.functional as taf

    builds, calls = [], []
    real_kernel, real_soxr = taf._get_sinc_resample_kernel, soxr.resample
    monkeypatch.setattr(
        taf, "_get_sinc_resample_kernel", lambda *a, **k: builds.append(a) or real_kernel(*a, **k)
    )
    monkeypatch.setattr(
        soxr, "resample", lambda x, a, b, **k: calls.append((a, b)) or real_soxr(x, a, b, **k)
    )
    report = prepare_tess(make_tess(tmp_path / "tess", sample_rate=24414, per_class=2), tmp_path / "w")
    rows = rows_of(report)
    assert builds == [] and calls == [(24414, 16000)] * 12
    assert report.orig_sample_rates == {24414: 12}
    assert {r["sample_rate"] for r in rows} == {16000}
    assert all(abs(r["num_samples"] - int(0.2 * 24414) * 16000 / 24414) < 1 for r in rows)


def test_corpus_variants_read_their_parent_folder(tmp_path):
    make_speech_commands(tmp_path / "speech_commands")
    make_esc50(tmp_path / "esc50")
    assert prepare("speech_commands12", tmp_path, tmp_path / "work").clips > 0
    assert prepare("esc10", tmp_path, tmp_path / "work").clips > 0
    assert get_recipe("speech_commands12").corpus_name == "speech_commands"
    assert get_recipe("esc10").corpus_name == "esc50"


def test_a_file_with_one_nan_is_a_counted_skip_that_names_it(tmp_path):
    corpus = make_tess(tmp_path / "tess", per_class=2)
    bad = next(corpus.rglob("OAF_angry/*.wav"))
    wave = np.full(3200, 0.1, dtype=np.float32)
    wave[100] = np.nan
    sf.write(bad, wave, 16000, subtype="FLOAT")
    report = prepare_tess(corpus, tmp_path / "w")
    assert report.clips == 11 and len(report.skipped) == 1
    assert report.skipped[0][0] == bad.name and "non-finite" in report.skipped[0][1]
