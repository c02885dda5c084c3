"""eSpeak NG text-to-speech: a real generator on every machine, and what it teaches about real speech."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raysynth.config import GenerationConfig, parse_spec
from raysynth.generators import build_generator


@pytest.fixture(scope="module")
def tts():
    return build_generator(GenerationConfig(generator="tts"))


def test_a_clip_does_not_depend_on_what_was_said_before(tts):
    """The library's global state carries over between utterances; the worker's fork per clip stops it."""
    first = tts.generate(["seven"], [5], 1.0)[0]
    rng = np.random.default_rng(0)
    words = ["zero", "one", "two", "three", "four", "five", "six", "eight", "nine"]
    tts.generate(
        [str(rng.choice(words)) for _ in range(40)], [int(s) for s in rng.integers(0, 2**31, 40)], 1.0
    )
    for variant in (
        "klatt",
        "klatt2",
        "robosoft",
        "whisper",
        "edward2",
    ):  # voices that once crashed or drifted
        tts.say({**tts.clip_params("four", 3), "voice": f"en+{variant}"}, 1.0)
    np.testing.assert_array_equal(tts.generate(["seven"], [5], 1.0)[0], first)


def test_each_clip_draws_its_own_voice_prosody_and_position(tts):
    params = [tts.clip_params("seven", seed) for seed in range(40)]
    assert len({p["voice"] for p in params}) > 20 and len({p["rate"] for p in params}) > 20
    assert all(120 <= p["rate"] <= 220 and 20 <= p["pitch"] <= 80 and 0 <= p["position"] < 1 for p in params)
    onsets = [np.flatnonzero(np.abs(c) > 0.01)[0] for c in tts.generate(["seven"] * 8, list(range(8)), 1.0)]
    assert len(set(onsets)) == 8  # the word sits at a different place in each clip


def test_stored_parameters_reproduce_the_clip(tts, tmp_path):
    """A shard row's ``params`` say the clip again: the same samples, up to the 16-bit FLAC step."""
    import pyarrow.parquet as pq

    from raysynth.audio import decode_flac, resample
    from raysynth.generate import ClassInfo, plan_clips
    from raysynth.generate.engine import ShardWriter
    from raysynth.generators import generation_recipe

    config = GenerationConfig(generator="tts")
    plan = plan_clips(
        "fsdd", [ClassInfo("7", 7, "seven")], generation_recipe(config), "label", 4, 0, template="{label}"
    )
    writer = ShardWriter(config.model_dump_json(), str(tmp_path), 16000, {})
    shard = writer.write(
        plan, writer.generator.generate([r["prompt"] for r in plan], [r["seed"] for r in plan], 1.0), 0.0
    )
    for row in pq.read_table(shard).to_pylist():
        params = json.loads(row["params"])
        assert params["text"] == "seven" and params["voice"].startswith("en")
        again = resample(tts.say(params, 1.0), tts.sample_rate, 16000)
        np.testing.assert_allclose(
            decode_flac(row["audio"]["bytes"])[0], np.clip(again, -1, 1), atol=2 / 32768
        )


def test_a_template_that_describes_a_sound_is_refused_for_tts(tmp_path):
    from raysynth.inputs import InputError, resolve

    def spec(generation, grid=None, dataset="fsdd_speakers"):
        return parse_spec({"name": "t", "dataset": {"name": dataset}, "generation": {"generator": "tts", **generation},
                           "grid": {"synth_multiplier": 1, "real_fraction": 0.0, **(grid or {})}})  # fmt: skip

    job = resolve(spec({}), tmp_path, tmp_path).generation[0]
    assert job.template == "{label}" and job.config.num_gpus == 0  # the words themselves, on CPU actors
    with pytest.raises(
        InputError, match="'{label} sound' describes a sound; tts would say those words aloud"
    ):
        resolve(spec({"prompt_template": "{label} sound"}), tmp_path, tmp_path)
    with pytest.raises(InputError, match="strategy 'llm' prompts describe sounds, but tts says words"):
        resolve(spec({}, {"strategy": "llm"}), tmp_path, tmp_path)
    with pytest.raises(InputError, match="dataset esc50 has no spoken-word template"):
        resolve(spec({}, {"fold": 1}, dataset="esc50"), tmp_path, tmp_path)
    assert resolve(spec({"prompt_template": "the number {label}"}), tmp_path, tmp_path).generation[0].template


def test_settings_another_backend_reads_are_refused_for_tts():
    from raysynth.generators import GeneratorError, check_generation

    with pytest.raises(GeneratorError, match="generation sets guidance, which tts does not read"):
        check_generation(GenerationConfig(generator="tts", guidance=3.0))
    with pytest.raises(GeneratorError, match="generation sets voices, which audiogen does not read"):
        check_generation(GenerationConfig(generator="audiogen", voices=["en"]))
    with pytest.raises(GeneratorError, match="not eSpeak NG variants"):
        build_generator(GenerationConfig(generator="tts", voice_variants=["m3", "nobody"]))


@pytest.mark.e2e
def test_tts_digits_teach_a_cnn_to_recognise_an_unseen_real_speaker(shared_data, ray_session, tmp_path):
    """The real path end to end: 20 eSpeak NG clips per digit through the Ray Data engine (CPU actors),
    a CNN trained on them alone, tested on the real recordings of a speaker it never heard."""
    from raysynth.inputs import ensure, resolve, trial_context
    from raysynth.train import run_trial

    spec = parse_spec({
        "name": "tts_bar", "dataset": {"name": "fsdd_speakers", "sample_rate": 8000},
        "generation": {"generator": "tts"},
        "train": {"epochs": 12, "batch_size": 32, "num_threads": 2, "synthetic_valid_per_class": 5},
        "noise": {"directory": "noise_speech_commands/_background_noise_", "test_files": ["running_tap"],
                  "segment_seconds": 1.0, "train_probability": 1.0, "train_snr_db": [0, 20], "test_snrs": []},
        "grid": {"real_fraction": 0.0, "synth_multiplier": 0.1, "fold": 1, "noise_source": "real"},
    })  # fmt: skip
    resolved = resolve(spec, shared_data, tmp_path)
    inputs = ensure(resolved)
    assert [s.written for s in inputs.generation] == [10 * (20 + 5)]  # 0.1 x 200 per digit, and validation
    (cell,) = resolved.cells
    last = run_trial(cell, trial_context(resolved, inputs), lambda metrics, state: None)
    assert last["num_real"] == 0 and last["num_synthetic"] == 200
    assert last["selected_test_acc"] >= 0.3, last["selected_test_acc"]  # chance is 0.1


def test_a_clip_is_the_same_in_any_worker_started_at_any_time(tts):
    """eSpeak NG seeds its noise generator with the time (``espeak_Initialize``): breathy and
    whispering variants said by a worker started a second later gave other samples for the same id
    (seen in a real run: 3 of 6 clips differed). The worker now seeds it from the request."""
    import time

    params = [
        {**tts.clip_params("three", 1), "voice": f"en-us-nyc+{v}"} for v in ("whisper", "f5", "Demonic", "m1")
    ]
    first = [tts.say(p, 1.0) for p in params]
    time.sleep(1.0 - time.time() % 1.0 + 0.05)  # the other worker starts in the next second
    later = build_generator(GenerationConfig(generator="tts"))
    for p, clip in zip(params, first, strict=True):
        np.testing.assert_array_equal(later.say(p, 1.0), clip, err_msg=p["voice"])


def _write_shard(config, tmp_path, words, per_class):
    """One shard of ``per_class`` clips of each of ``words``, through the shard writer; returns its
    rows' params and the writer's counts."""
    import pyarrow.parquet as pq

    from raysynth.generate import ClassInfo, plan_clips
    from raysynth.generate.engine import ShardWriter
    from raysynth.generators import generation_recipe

    classes = [ClassInfo(str(i), i, w) for i, w in enumerate(words)]
    plan = plan_clips("toy", classes, generation_recipe(config), "label", per_class, 0, template="{label}")
    writer = ShardWriter(config.model_dump_json(), str(tmp_path), 16000, {})
    out = writer({"chunk": [json.dumps(plan)]})
    rows = pq.read_table(out["shard"][0]).to_pylist() if out["shard"][0] else []
    return [json.loads(r["params"]) for r in rows], out


def test_speech_too_long_for_its_clip_is_said_faster_and_each_clip_says_if_it_was_cut(tmp_path):
    """A cut word is another word. At 80 words a minute, 'noise burst' does not fit in 0.6 s: by
    default it is said again faster until it fits, and every stored row says how long its speech is
    and how much was cut; ``keep`` stores it cut, and counts it."""
    slow = dict(generator="tts", rate_wpm=(80.0, 100.0), duration_s=0.6)
    params, out = _write_shard(GenerationConfig(**slow), tmp_path / "faster", ["noise burst"], 6)
    assert len(params) == 6 and all(p["speech_s"] <= 0.6 for p in params)
    assert all(p["cut_s"] == 0 and p["speedups"] >= 1 and p["rate"] > 100 for p in params)
    assert out["sped_up"] == [6] and out["cut"] == [0]
    tts = build_generator(GenerationConfig(**slow))
    kept, out = _write_shard(
        GenerationConfig(**slow, truncation="keep"), tmp_path / "keep", ["noise burst"], 6
    )
    assert all(p["cut_s"] > 0 and p["speech_s"] > 0.6 and p["speedups"] == 0 for p in kept)
    assert out["cut"] == [6] and out["sped_up"] == [0]
    # the stored values say the same clip again: sped-up values are not sped up twice
    np.testing.assert_array_equal(
        tts.say(params[0], 0.6), tts.say({k: v for k, v in params[0].items() if k != "speedups"}, 0.6)
    )


def test_speech_that_overruns_is_drawn_again_or_dropped_and_counted_when_the_user_asks(tmp_path):
    base = dict(generator="tts", rate_wpm=(80.0, 90.0), duration_s=0.8)
    words = ["noise burst", "one"]
    kept, out = _write_shard(GenerationConfig(**base, truncation="keep"), tmp_path / "keep", words, 6)
    overran = sum(p["cut_s"] > 0 for p in kept)
    assert 0 < overran < 12 and out["cut"] == [overran]
    params, out = _write_shard(
        GenerationConfig(**base, truncation="redraw", max_regenerations=0), tmp_path / "drop", words, 6
    )
    assert out["rejected"] == [overran] and len(params) == 12 - overran  # dropped and counted
    params, out = _write_shard(
        GenerationConfig(**base, truncation="redraw", max_regenerations=3), tmp_path / "redraw", words, 6
    )
    assert out["rejected"][0] < overran and all(p["cut_s"] == 0 for p in params)  # new seeds, whole words


def test_a_truncation_policy_is_part_of_the_recipe():
    from raysynth.generators import generation_recipe

    recipes = {
        json.dumps(generation_recipe(GenerationConfig(generator="tts", truncation=t)), sort_keys=True)
        for t in ("faster", "redraw", "keep")
    }
    assert len(recipes) == 3
