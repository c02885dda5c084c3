"""Keyword spotting on real Speech Commands recordings, trained on synthetic speech only, with the
frozen speech embedding (issue 24's bar)."""

from __future__ import annotations

import pytest

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]


def _test_only_corpus(shared_data, root, per_word: int):
    """``per_word`` real clips of each of the eight keywords of speech_commands_mini, every one in the
    test list: a corpus to test on, in the layout the speech_commands recipe reads."""
    corpus = root / "speech_commands"
    lines = []
    for word in KEYWORDS:
        (corpus / word).mkdir(parents=True)
        for wav in sorted((shared_data / "speech_commands_mini" / word).glob("*.wav"))[:per_word]:
            (corpus / word / wav.name).symlink_to(wav)
            lines.append(f"{word}/{wav.name}")
    (corpus / "testing_list.txt").write_text("\n".join(lines) + "\n")
    (corpus / "validation_list.txt").write_text("")
    return root


@pytest.mark.slow  # about 2 minutes on 2 cores: generation through Ray, 1,600 clips embedded
@pytest.mark.parametrize("head", ["linear", "temporal"])
def test_espeak_keywords_through_the_speech_embedding_recognise_real_speakers(
    shared_data, ray_session, tmp_path, head
):
    """20 eSpeak NG clips per keyword, the frozen speech embedding and a small head, tested on 100
    real recordings per keyword by speakers never heard (chance: 0.125)."""
    from raysynth.config import parse_spec
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.train import run_trial

    data = _test_only_corpus(shared_data, tmp_path / "data", per_word=100)
    spec = parse_spec({
        "name": "kws", "dataset": {"name": "speech_commands"},
        "generation": {"generator": "tts", "concurrency": 2},
        "train": {"backbone": "speech_embedding", "head": head, "epochs": 30, "batch_size": 32,
                  "learning_rate": 3e-3, "synthetic_valid_per_class": 5},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 0.2},
    })  # fmt: skip
    resolved = resolve(spec, data, tmp_path / "work")
    ensure(resolved)
    (cell,) = resolved.cells
    last = run_trial(cell, trial_context(resolved), lambda metrics, state: None)
    assert last["num_real"] == 0 and last["num_synthetic"] == 8 * 20
    print(f"\n{head} head: test accuracy {last['selected_test_acc']:.3f} on {8 * 100} real clips")
    assert last["selected_test_acc"] >= 0.5, last["selected_test_acc"]


def test_the_hash_rule_puts_no_speaker_of_the_excerpt_in_the_official_test_split(shared_data):
    """speech_commands_mini holds only training- and validation-split speakers by the dataset's own
    rule (its README says so): which_set, written from the dataset's README, must agree."""
    from collections import Counter

    from raysynth.datasets.speech_commands import which_set

    splits = Counter(which_set(p.name) for p in (shared_data / "speech_commands_mini").glob("*/*.wav"))
    assert (
        splits["test"] == 0 and splits["train"] > 2500 and 0.05 < splits["valid"] / sum(splits.values()) < 0.2
    )


def test_word_folders_with_no_lists_prepare_into_speaker_disjoint_folds(shared_data, tmp_path):
    from raysynth.datasets import prepare, read_manifest

    report = prepare("speech_commands_mini", shared_data, tmp_path, 16000)
    rows = read_manifest(report.manifest, columns=["split", "label", "speaker"]).to_pylist()
    assert report.clips == 3600 and sorted({r["split"] for r in rows}) == ["1", "2", "3", "4", "5"]
    assert sorted({r["label"] for r in rows}) == sorted([*KEYWORDS, "_unknown_"])
    folds_of = {}
    for row in rows:
        folds_of.setdefault(row["speaker"], set()).add(row["split"])
    assert len(folds_of) == 1235 and all(len(f) == 1 for f in folds_of.values())  # no speaker in two folds
    assert any("on" in note and "off" in note for note in report.notes)  # the keywords it lacks are named


def test_without_list_files_the_full_recipe_splits_by_the_hash_rule(shared_data, tmp_path):
    import shutil

    from raysynth.datasets import prepare, read_manifest
    from raysynth.datasets.speech_commands import which_set

    corpus = tmp_path / "data" / "speech_commands" / "yes"
    corpus.mkdir(parents=True)
    for wav in sorted((shared_data / "speech_commands_mini" / "yes").glob("*.wav"))[:60]:
        shutil.copy(wav, corpus / wav.name)
    report = prepare("speech_commands", tmp_path / "data", tmp_path / "work", 16000)
    rows = read_manifest(report.manifest, columns=["split", "audio"]).to_pylist()
    assert [r["split"] for r in rows] == [which_set(r["audio"]["path"]) for r in rows]
    assert any("hash rule" in note for note in report.notes)


def test_a_backbone_axis_and_fold_zero_are_checked_before_any_work():
    from raysynth.config import SpecError, parse_spec
    from raysynth.inputs.cells import trial_cells

    base = {"name": "k", "dataset": {"name": "speech_commands_mini"}}
    spec = parse_spec({**base, "train": {"backbone": "speech_embedding", "head": "temporal"},
                       "grid": {"backbone": ["cnn", "speech_embedding"], "real_fraction": 0.0,
                                "synth_multiplier": 1.0, "fold": 0}})  # fmt: skip
    assert [c["backbone"] for c in trial_cells(spec)] == ["cnn", "speech_embedding"]
    assert "backbone" not in trial_cells(parse_spec(base))[0]  # no axis: the cells are as before
    parse_spec(
        {**base, "train": {"n_mels": 32}, "grid": {"backbone": ["cnn", "ast"]}}
    )  # cnn's key, left to it
    with pytest.raises(SpecError, match="grid.backbone cnn: train.backbone cnn ignores model_id"):
        parse_spec(
            {
                **base,
                "train": {"backbone": "whisper", "model_id": "x"},
                "grid": {"backbone": ["cnn", "speech_embedding"]},
            }
        )
    with pytest.raises(SpecError, match="grid.fold 0 tests on every fold"):
        parse_spec({**base, "grid": {"fold": 0, "real_fraction": 0.5}})
    with pytest.raises(SpecError, match="grid.backbone"):
        parse_spec({**base, "grid": {"backbone": ["resnet"]}})


def test_fold_zero_tests_every_real_clip_and_scales_synthetic_clips_as_one_fold(shared_data, tmp_path):
    from raysynth.datasets import prepare
    from raysynth.train.data import load_real

    manifest = prepare("speech_commands_mini", shared_data, tmp_path, 16000).manifest
    every = load_real(manifest, 0.0, 0, fold=0)
    one = load_real(manifest, 1.0, 0, fold=1)
    assert every.test.num_rows == 3600 and every.train.num_rows == 0 and every.valid.num_rows == 0
    assert all(every.train_counts[c] >= one.train_counts[c] for c in one.train_counts)
    assert max(every.train_counts.values()) < 400  # a training part's count, not the whole corpus's


def test_the_asr_score_hears_real_speakers_say_their_own_word(shared_data):
    """PocketSphinx in grammar mode over the eight keywords: real recordings of a word score higher
    on their own label than on another's, and are mostly heard as themselves."""
    import numpy as np
    import soundfile as sf

    from raysynth.quality.asr import AsrScorer

    scorer = AsrScorer(KEYWORDS)
    own, other, heard = [], [], []
    for k, word in enumerate(KEYWORDS):
        for wav in sorted((shared_data / "speech_commands_mini" / word).glob("*.wav"))[:8]:
            wave, rate = sf.read(wav, dtype="float32")
            waves = np.pad(wave, (0, max(0, rate - wave.size)))[None]
            score, margin = scorer.score(waves, rate, [word])
            own.append(score[0])
            other.append(scorer.score(waves, rate, [KEYWORDS[(k + 1) % len(KEYWORDS)]])[0][0])
            heard.append(margin[0] > 0)
    assert np.mean(own) > np.mean(other) + 0.4, (np.mean(own), np.mean(other))
    assert np.mean(heard) >= 0.6, np.mean(heard)


@pytest.mark.slow  # a generation and a scoring pass through Ray
def test_an_asr_filter_keeps_the_clips_the_recognizer_hears_best(shared_data, ray_session, tmp_path):
    import numpy as np
    from test_speech import _speech_commands_like

    from raysynth.config import parse_spec
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.quality.scoring import load_scores
    from raysynth.train.mixture import build_mixture

    data = _speech_commands_like(shared_data, tmp_path / "data")
    spec = parse_spec({
        "name": "asr", "dataset": {"name": "speech_commands12"},
        "generation": {"generator": "tts", "concurrency": 1},
        "train": {"epochs": 1, "batch_size": 8, "synthetic_valid_per_class": 2},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 5.0, "quality_filter": ["none", "asr_top_fraction:0.5"]},
    })  # fmt: skip
    resolved = resolve(spec, data, tmp_path / "work")
    ensure(resolved)
    (job,) = resolved.score_jobs
    assert job.kind == "asr"
    plain, filtered = (build_mixture(c, trial_context(resolved)) for c in resolved.cells)
    assert filtered.num_synthetic == plain.num_synthetic and filtered.quality_kept
    kept = [i for i in filtered.train.ids if not i.startswith("silence-")]
    everything = [i for i in plain.train.ids if not i.startswith("silence-")]
    assert np.mean(load_scores(job.folder, kept)[0]) > np.mean(load_scores(job.folder, everything)[0])


def test_keywords_with_no_recording_are_classes_trained_from_synthetic_speech_only(shared_data, tmp_path):
    """speech_commands_mini10: on and off, which the copy has no recording of, are classes of the task:
    named in the manifest, planned as synthetic speech (saying the word), counted as a median class."""
    from raysynth.config import parse_spec
    from raysynth.datasets import prepare, read_manifest
    from raysynth.datasets.manifest import manifest_classes
    from raysynth.inputs import resolve
    from raysynth.inputs.synthetic import plan_job
    from raysynth.train.data import load_real

    ten = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    report = prepare("speech_commands_mini10", shared_data, tmp_path / "work", 16000)
    assert manifest_classes(report.manifest) == [*ten, "_unknown_"]
    labels = set(read_manifest(report.manifest, columns=["label"]).column("label").to_pylist())
    assert labels == {*KEYWORDS, "_unknown_"} and any("'on', 'off'" in note for note in report.notes)
    real = load_real(report.manifest, 0.0, 0, fold=1)
    recorded = sorted(n for label, n in real.train_counts.items() if label not in ("on", "off"))
    assert real.train_counts["on"] == real.train_counts["off"] == recorded[(len(recorded) - 1) // 2] > 200
    assert real.class_names == [*ten, "_unknown_"] and real.test.num_rows > 0
    spec = parse_spec({
        "name": "k10", "dataset": {"name": "speech_commands_mini10"},
        "generation": {"generator": "tts", "prompt_template": "{label}", "duration_s": 1.0},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 0.05, "fold": 1},
    })  # fmt: skip
    resolved = resolve(spec, shared_data, tmp_path / "work")
    rows = plan_job(resolved.generation[0], resolved.manifest.path)
    said = {row["label"]: row["prompt"] for row in rows if row["label"] in ("on", "off")}
    assert said == {"on": "on", "off": "off"}
    per_class = {label: sum(r["label"] == label and r["split"] == "train" for r in rows) for label in ten}
    assert per_class["on"] == per_class["off"] > 0 and min(per_class.values()) > 0


def test_a_speech_commands12_release_without_on_and_off_names_them_as_classes(shared_data, tmp_path):
    from raysynth.datasets import prepare
    from raysynth.datasets.manifest import manifest_classes

    report = prepare(
        "speech_commands12", _test_only_corpus(shared_data, tmp_path / "data", 3), tmp_path / "w", 16000
    )
    classes = manifest_classes(report.manifest)
    assert classes[6:8] == ["on", "off"] and classes[-2:] == ["_unknown_", "_silence_"]  # not "6" and "7"
