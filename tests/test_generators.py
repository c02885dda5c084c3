import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from raysynth.config import GenerationConfig
from raysynth.generate.engine import ShardWriter, clip_problem
from raysynth.generate.plan import attempt_seed
from raysynth.generators import (
    BACKENDS,
    GeneratorError,
    build_generator,
    check_generation,
    effective_config,
    resolve_model_id,
)
from raysynth.generators.audiogen import build_tiny_audiogen


class GeneratorContract:
    """What every backend must do (diffusers' tester-mixin pattern). Subclasses give ``config``."""

    config: GenerationConfig
    expected_rate: int
    # Of three text lengths, one long: a backend that pads a call's prompts to the longest must
    # keep each clip as it is alone (a real T5 or CLAP tokenizer pads; see the padded AudioGen).
    prompts = ["dog bark sound", "rain", "a church bell rings twice far away over the quiet town square"]
    seeds = [11, 22, 33]
    duration = 0.5

    @pytest.fixture(scope="class")
    @classmethod
    def generator(cls):
        return build_generator(cls.config)

    def test_shape_rate_and_sound(self, generator):
        clips = generator.generate(self.prompts, self.seeds, self.duration)
        assert generator.sample_rate == self.expected_rate
        assert [c.shape for c in clips] == [(int(self.duration * self.expected_rate),)] * 3
        assert all(c.dtype == np.float32 and clip_problem(c) is None for c in clips)

    def test_same_seed_same_clip(self, generator):
        first = generator.generate(self.prompts[:2], self.seeds[:2], self.duration)
        again = generator.generate(self.prompts[:2], self.seeds[:2], self.duration)
        other = generator.generate(self.prompts[:2], [7, 8], self.duration)
        np.testing.assert_array_equal(first[0], again[0])
        assert not np.allclose(first[0], other[0])

    def test_batch_equals_single(self, generator):
        batch = generator.generate(self.prompts, self.seeds, self.duration)
        for prompt, seed, clip in zip(self.prompts, self.seeds, batch, strict=True):
            np.testing.assert_allclose(
                generator.generate([prompt], [seed], self.duration)[0], clip, atol=1e-4
            )

    def test_quality_guard_flags_this_backends_broken_clips(self, generator):
        clip = generator.generate(self.prompts[:1], self.seeds[:1], self.duration)[0]
        assert clip_problem(clip) is None
        assert clip_problem(np.where(np.arange(clip.size) == 7, np.nan, clip).astype(np.float32)) == "nan"
        assert clip_problem(clip * 0) == "silent"
        assert clip_problem(np.clip(clip / (np.abs(clip).max() + 1e-12) * 50, -1, 1)) == "clipped"

    def test_position_in_batch_does_not_matter(self, generator):
        forward = generator.generate(self.prompts, self.seeds, self.duration)
        backward = generator.generate(self.prompts[::-1], self.seeds[::-1], self.duration)[::-1]
        for a, b in zip(forward, backward, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-4)


class TestAudioGenContract(GeneratorContract):
    config = GenerationConfig(generator="audiogen", tiny=True, top_k=50)
    expected_rate = 16000


class TestAudioGenPaddedContract(GeneratorContract):
    """The tiny AudioGen with a text conditioner that pads a call's prompts to the longest, as T5 does
    (the lookup one never pads): the contract must hold on real checkpoints' conditioning too."""

    config = GenerationConfig(generator="audiogen", tiny=True, top_k=50)
    expected_rate = 16000

    @pytest.fixture(scope="class")
    @classmethod
    def generator(cls):
        from raysynth.generators.audiogen import AudioGenGenerator
        from raysynth.testing.conditioners import with_padding_conditioner

        return AudioGenGenerator(with_padding_conditioner(build_tiny_audiogen(seed=0)), top_k=50)


@pytest.mark.parametrize("fast_decode", [True, False], ids=["fast", "reference"])
def test_audiogen_clip_does_not_depend_on_how_long_its_batch_mates_are(fast_decode):
    """The issue's case: "dog bark sound" alone, beside a short prompt and beside a 10-word one, in
    both decoding loops. The padded positions of a longer batch-mate must take no attention."""
    from raysynth.generators.audiogen import AudioGenGenerator
    from raysynth.testing.conditioners import with_padding_conditioner

    generator = AudioGenGenerator(
        with_padding_conditioner(build_tiny_audiogen(seed=4)), 30, fast_decode=fast_decode
    )
    long = "a long prompt of ten words about a dog that barks"
    alone = generator.generate(["dog bark sound"], [5], 1.0)[0]
    for mate in ("rain sound", long):
        beside = generator.generate(["dog bark sound", mate], [5, 6], 1.0)[0]
        np.testing.assert_allclose(beside, alone, atol=1e-4, err_msg=f"beside {mate!r}")


class TestAudioLDM2Contract(GeneratorContract):
    config = GenerationConfig(generator="audioldm2", tiny=True, steps=2)
    expected_rate = 16000


class TestAudioLDM2DDIMContract(GeneratorContract):
    config = GenerationConfig(
        generator="audioldm2", tiny=True, steps=2, scheduler="ddim", negative_prompt="low quality"
    )
    expected_rate = 16000


class TestMusicGenContract(GeneratorContract):
    config = GenerationConfig(generator="musicgen", tiny=True, top_k=20)
    expected_rate = 32000


class TestStableAudioContract(GeneratorContract):
    config = GenerationConfig(generator="stable_audio", tiny=True, steps=3)
    expected_rate = 44100


class SpeechContract(GeneratorContract):
    """A speech backend, a real engine: its prompts are words to say, and a clip is the same in a
    process started later (its content address is only honest then)."""

    prompts = ["seven", "three", "nine"]
    duration = 1.0

    def test_a_clip_made_in_a_new_process_equals_the_one_made_here(self, generator, tmp_path):
        import subprocess
        import sys

        clips = generator.generate(self.prompts, self.seeds, self.duration)
        script = (
            "import sys, numpy as np; from raysynth.config import GenerationConfig; "
            "from raysynth.generators import build_generator; "
            f"g = build_generator(GenerationConfig.model_validate_json({self.config.model_dump_json()!r})); "
            f"np.save(sys.argv[1], np.stack(g.generate({self.prompts!r}, {self.seeds!r}, {self.duration})))"
        )
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "later.npy")], capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        np.testing.assert_array_equal(np.load(tmp_path / "later.npy"), np.stack(clips))

    def test_stored_values_say_the_clip_again(self, generator):
        clips = generator.generate(self.prompts, self.seeds, self.duration)
        for prompt, seed, clip in zip(self.prompts, self.seeds, clips, strict=True):
            record = generator.clip_record(prompt, seed)
            assert (
                record["text"] == prompt and record["cut_s"] == 0 and 0 < record["speech_s"] <= self.duration
            )
            np.testing.assert_array_equal(generator.say(record, self.duration), clip)


class TestTTSContract(SpeechContract):
    """eSpeak NG, the real model."""

    config = GenerationConfig(generator="tts")
    expected_rate = 22050


class TestPiperContract(SpeechContract):
    """Piper's en_US joe voice (VITS), the real model, its graph's noise fed from the seed."""

    config = GenerationConfig(generator="piper")
    expected_rate = 22050


class TestKokoroContract(SpeechContract):
    """Kokoro-82M (int8 ONNX), the real model, saying English from eSpeak NG's phonemes; its model is
    assembled once into a folder of the tests' own."""

    config = GenerationConfig(
        generator="kokoro", model_cache=str(Path(tempfile.gettempdir()) / "raysynth-tests-kokoro")
    )
    expected_rate = 24000


class TestFliteContract(SpeechContract):
    """CMU Flite, the real program (Debian's flite)."""

    config = GenerationConfig(generator="flite")
    expected_rate = 16000

    @pytest.fixture(scope="class")
    @classmethod
    def generator(cls):
        from conftest import require_program

        require_program("flite", "flite")
        return build_generator(cls.config)


def _contracts(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _contracts(sub)


def test_every_backend_has_a_contract_test():
    tested = {cls.config.generator for cls in _contracts(GeneratorContract) if hasattr(cls, "config")}
    assert (
        tested
        == set(BACKENDS)
        == {"audiogen", "audioldm2", "flite", "kokoro", "musicgen", "piper", "stable_audio", "tts"}
    )


def _save_tiny(name, folder):
    """Save a tiny backend with its library's own save_pretrained, as a user's local copy would be."""
    if name == "audioldm2":
        from raysynth.generators.audioldm2 import build_tiny_audioldm2

        build_tiny_audioldm2().save_pretrained(folder)
    elif name == "musicgen":
        from raysynth.generators.musicgen import build_tiny_musicgen

        model, tokenizer = build_tiny_musicgen()
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    else:
        from raysynth.generators.stable_audio import build_tiny_stable_audio

        build_tiny_stable_audio().save_pretrained(folder)


@pytest.mark.parametrize("name", ["audioldm2", "musicgen", "stable_audio"])
def test_from_pretrained_local_folder_matches_the_built_model(name, tmp_path):
    """The real loading path (from_pretrained) on a local folder gives the same clips as the tiny model."""
    _save_tiny(name, tmp_path / name)
    settings = {"top_k": 20} if name == "musicgen" else {"steps": 2}
    tiny = build_generator(GenerationConfig(generator=name, tiny=True, **settings))
    loaded = build_generator(GenerationConfig(generator=name, model_id=str(tmp_path / name), **settings))
    assert loaded.model_id == str(tmp_path / name)
    np.testing.assert_allclose(
        loaded.generate(["rain sound"], [5], 0.25)[0], tiny.generate(["rain sound"], [5], 0.25)[0], atol=1e-5
    )


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_half_precision_generates_finite_audio(dtype):
    generator = build_generator(GenerationConfig(generator="stable_audio", tiny=True, steps=2, dtype=dtype))
    clip = generator.generate(["rain sound"], [3], 0.25)[0]
    assert clip.dtype == np.float32 and np.isfinite(clip).all()


def test_quality_guard_detects_nan_silence_and_clipping():
    rng = np.random.default_rng(0)
    good = (0.1 * rng.standard_normal(1600)).astype(np.float32)
    assert clip_problem(good) is None
    assert clip_problem(np.full(1600, np.nan, np.float32)) == "nan"
    assert clip_problem(np.zeros(1600, np.float32)) == "silent"
    assert clip_problem(np.clip(good * 100, -1, 1)) == "clipped"


class ScriptedGenerator:
    """A stand-in backend for the engine's fault paths: bad clips for some seeds, OOM above a batch size."""

    name, model_id, sample_rate = "scripted", "scripted", 8000

    def __init__(self, bad_seeds=(), max_batch=64):
        self.bad_seeds, self.max_batch, self.calls = set(bad_seeds), max_batch, []

    def generate(self, prompts, seeds, duration_s):
        import torch

        self.calls.append(len(prompts))
        if len(prompts) > self.max_batch:
            raise torch.OutOfMemoryError("CUDA out of memory (scripted)")
        rng = np.random.default_rng(seeds[0])
        return [
            np.zeros(800, np.float32)
            if s in self.bad_seeds
            else (0.1 * rng.standard_normal(800)).astype(np.float32)
            for s in seeds
        ]


def writer_with(generator, max_regenerations=2):
    writer = object.__new__(ShardWriter)
    writer.config = GenerationConfig(duration_s=0.1, max_regenerations=max_regenerations)
    writer.generator, writer.oom_splits = generator, 0
    return writer


def test_bad_clips_are_regenerated_with_new_seeds_then_counted():
    """A regenerated clip keeps its planned id and seed; ``attempt`` says which seed made its audio."""
    rows = [{"id": str(i), "prompt": "p", "seed": i} for i in range(4)]
    fixed_on_retry = writer_with(ScriptedGenerator(bad_seeds={1}))
    kept, waves, rejected = fixed_on_retry.guard(
        rows, fixed_on_retry.generator.generate(["p"] * 4, [0, 1, 2, 3], 0.1)
    )
    assert rejected == 0 and [r["seed"] for r in kept] == [0, 1, 2, 3]
    assert [r["attempt"] for r in kept] == [0, 1, 0, 0] and [r["id"] for r in kept] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(
        waves[1], fixed_on_retry.generator.generate(["p"], [attempt_seed(1, 1)], 0.1)[0]
    )
    always_bad = writer_with(ScriptedGenerator(bad_seeds={1, attempt_seed(1, 1), attempt_seed(1, 2)}))
    kept, _, rejected = always_bad.guard(rows, always_bad.generator.generate(["p"] * 4, [0, 1, 2, 3], 0.1))
    assert rejected == 1 and [r["id"] for r in kept] == ["0", "2", "3"]


def test_out_of_memory_batch_is_split_and_retried():
    writer = writer_with(ScriptedGenerator(max_batch=2))
    writer.config = writer.config.model_copy(update={"num_gpus": 0})  # on a GPU batches are pinned (below)
    waves = writer.generate_split_on_oom(["p"] * 8, list(range(8)))
    assert len(waves) == 8 and writer.oom_splits == 3
    assert writer.generator.calls == [8, 4, 2, 2, 4, 2, 2]
    with pytest.raises(Exception, match="out of memory"):
        writer_with(ScriptedGenerator(max_batch=0)).generate_split_on_oom(["p"] * 2, [0, 1])


def test_on_a_gpu_a_batch_is_part_of_its_clips_recipe_and_is_never_split():
    """cuBLAS and SDPA pick kernels by shape, so in half precision a clip may change with its batch:
    on a GPU the batch size is in the recipe, each clip's id names its batch-mates, and an
    out-of-memory batch stops the run with what to do, where a split would store other audio."""
    from raysynth.generate.plan import pin_batches
    from raysynth.generators import generation_recipe

    gpu = [GenerationConfig(generator="audiogen", batch_size=b, num_gpus=1) for b in (4, 8)]
    cpu = [GenerationConfig(generator="audiogen", batch_size=b, num_gpus=0) for b in (4, 8)]
    assert (
        generation_recipe(gpu[0]) != generation_recipe(gpu[1])
        and generation_recipe(gpu[0])["gpu_batch_size"] == 4
    )
    assert generation_recipe(cpu[0]) == generation_recipe(
        cpu[1]
    ) and "gpu_batch_size" not in generation_recipe(cpu[0])
    assert "gpu_batch_size" not in generation_recipe(
        GenerationConfig(generator="tts", num_gpus=1)
    )  # a CPU engine

    rows = [{"id": f"c{i}", "prompt": f"p{i}", "seed": i} for i in range(6)]
    pinned = pin_batches(rows, 4)
    assert [r["id"] for r in pin_batches(rows, 4)] == [r["id"] for r in pinned]
    assert len({r["id"] for r in pinned} | {r["id"] for r in rows}) == 12
    other_mate = pin_batches([*rows[:3], {**rows[3], "prompt": "another"}, *rows[4:]], 4)
    assert all(a["id"] != b["id"] for a, b in zip(pinned[:4], other_mate[:4], strict=True))
    assert [r["id"] for r in other_mate[4:]] == [r["id"] for r in pinned[4:]]
    assert [r["id"] for r in pin_batches(rows, 3)][:3] != [r["id"] for r in pinned][:3]

    writer = writer_with(ScriptedGenerator(max_batch=2))
    writer.config = writer.config.model_copy(update={"num_gpus": 1, "batch_size": 8})
    with pytest.raises(
        GeneratorError, match=r"out of memory at a batch of 8 on a GPU.*lower generation.batch_size"
    ):
        writer.generate_split_on_oom(["p"] * 8, list(range(8)))
    assert writer.generator.calls == [8] and writer.oom_splits == 0


def test_tiny_weights_are_seeded():
    a, b = build_tiny_audiogen(seed=0), build_tiny_audiogen(seed=0)
    for (name, pa), (_, pb) in zip(a.lm.named_parameters(), b.lm.named_parameters(), strict=True):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy()), name


def test_bad_generation_settings_fail_before_any_model_is_built(tmp_path):
    with pytest.raises(GeneratorError, match=r"duration_s has to be in \(0, 10.0\] for audiogen, but is 12"):
        check_generation(GenerationConfig(duration_s=12.0))
    with pytest.raises(
        GeneratorError, match=r"scheduler has to be one of \['dpm'\] for stable_audio, but is 'ddim'"
    ):
        check_generation(GenerationConfig(generator="stable_audio", scheduler="ddim"))
    with pytest.raises(GeneratorError, match="generation sets steps, which musicgen does not read"):
        check_generation(GenerationConfig(generator="musicgen", steps=10))
    with pytest.raises(GeneratorError, match="generation sets negative_prompt, which audiogen does not read"):
        check_generation(GenerationConfig(generator="audiogen", top_k=20, negative_prompt="noise"))
    with pytest.raises(GeneratorError, match="generation sets top_k, which audioldm2 does not read"):
        check_generation(GenerationConfig(generator="audioldm2", top_k=20))
    with pytest.raises(GeneratorError, match="model_id '.*nowhere' looks like a local path"):
        check_generation(GenerationConfig(generator="audioldm2", model_id=str(tmp_path / "nowhere")))
    assert check_generation(GenerationConfig(generator="stable_audio", duration_s=47.0)).steps == 50


def test_backend_defaults_fill_unset_values():
    config = effective_config(GenerationConfig(generator="audioldm2"))
    assert (config.batch_size, config.guidance, config.steps, config.scheduler) == (8, 3.5, 25, "dpm")
    config = effective_config(GenerationConfig(generator="musicgen", batch_size=3, guidance=1.5))
    assert (config.batch_size, config.guidance, config.steps) == (3, 1.5, None)


def test_tiny_generator_checks_its_own_shorter_range():
    generator = build_generator(GenerationConfig(generator="stable_audio", tiny=True, steps=2))
    with pytest.raises(ValueError, match=r"duration_s has to be in \(0, 1.49\], but is 5"):
        generator.generate(["a"], [0], 5.0)


def test_unknown_generator_lists_registered():
    with pytest.raises(GeneratorError, match="unknown generator 'audiogenn'.*audiogen"):
        build_generator(GenerationConfig(generator="audiogenn"))
    assert "audiogen" in BACKENDS


def test_model_ids():
    assert resolve_model_id(GenerationConfig()) == "facebook/audiogen-medium"
    assert resolve_model_id(GenerationConfig(generator="audioldm2")) == "cvssp/audioldm2"
    assert resolve_model_id(GenerationConfig(generator="musicgen")) == "facebook/musicgen-small"
    assert resolve_model_id(GenerationConfig(generator="stable_audio")) == "stabilityai/stable-audio-open-1.0"
    assert resolve_model_id(GenerationConfig(tiny=True)) == "raysynth/tiny-audiogen"
    assert resolve_model_id(GenerationConfig(model_id="/models/ag")) == "/models/ag"


@pytest.mark.parametrize("name", ["audiogen", "audioldm2", "musicgen", "stable_audio"])
def test_unreachable_model_names_id_and_how_to_fix(name, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(GeneratorError) as info:
        build_generator(GenerationConfig(generator=name, num_gpus=0))
    message = str(info.value)
    assert BACKENDS[name].default_model_id in message and "huggingface-cli download" in message


def test_audioldm2_prompt_cache_is_bounded_and_does_not_change_clips(monkeypatch):
    from raysynth.generators import audioldm2

    monkeypatch.setattr(audioldm2, "ENCODED_CACHE_SIZE", 2)
    generator = build_generator(GenerationConfig(generator="audioldm2", tiny=True, steps=2))
    first = generator.generate(["rain sound"], [1], 0.25)[0]
    generator.generate(["a", "b", "c"], [2, 3, 4], 0.25)
    assert len(generator._encoded) == 2 and "rain sound" not in generator._encoded
    np.testing.assert_allclose(generator.generate(["rain sound"], [1], 0.25)[0], first, atol=1e-6)


# --- Fast decoding: the same tokens as the reference loops -----------------------------------------


@pytest.mark.parametrize(
    "lm",
    [
        {},  # audiocraft's defaults: post-norm, biases, einsum attention
        {
            "memory_efficient": True,
            "bias_proj": False,
            "bias_ff": False,
            "bias_attn": False,
            "norm_first": True,
        },
    ],
    ids=["post_norm", "audiogen_lm_yaml"],
)
def test_audiogen_fast_decode_gives_the_reference_tokens(lm):
    """fp32 on CPU: lm_decode.fast_generate against audiocraft's LMModel.generate, per-clip seeds,
    top-k sampling and guidance, for audiocraft's default layer and the audiogen_lm.yaml one."""
    from raysynth.generators import lm_decode
    from raysynth.generators.audiogen import audiogen_config, build_audiogen_from_config, per_clip_sampling

    model = build_audiogen_from_config(audiogen_config(**lm), seed=3)
    assert lm_decode.unsupported(model.lm) is None
    prompts, seeds = ["a dog barks", "rain on a tin roof", "a car passes"], [11, 12, 13]
    attributes, _ = model._prepare_tokens_and_attributes(prompts, None)
    kwargs = {"max_gen_len": 40, "use_sampling": True, "top_k": 30, "cfg_coef": 3.0}
    with torch.inference_mode(), per_clip_sampling(seeds, "cpu"):
        reference = model.lm.generate(None, attributes, **kwargs)
    with torch.inference_mode(), per_clip_sampling(seeds, "cpu"):
        fast = lm_decode.fast_generate(model.lm, None, attributes, **kwargs)
    assert reference.shape == (3, 4, 40) and torch.equal(reference, fast)
    assert len(set(reference[:, 0].flatten().tolist())) > 5  # sampled, not a constant


def test_compiled_fast_step_mutates_only_static_inputs_and_gives_the_same_tokens():
    """generation.compile: inductor skips CUDA graphs for a mutated graph input whose address is not
    static, and the step writes its key/value caches every step. Proven on CPU: no such input is
    left, the compiled workspace (compiled once, refilled in place) gives the eager loop's tokens,
    call after call, with other prompts of the same shape."""
    from torch._dynamo.testing import CompileCounterWithBackend

    from raysynth.generators import lm_compile, lm_decode
    from raysynth.generators.audiogen import build_tiny_audiogen, per_clip_sampling

    model = build_tiny_audiogen(seed=1)
    assert lm_compile.unstatic_mutations(model.lm) == []
    counter = CompileCounterWithBackend("aot_eager")
    kwargs = {"max_gen_len": 20, "use_sampling": True, "top_k": 30, "cfg_coef": 3.0}
    for prompts, seeds in (
        (["a dog barks", "rain"], [1, 2]),
        (["wind", "a bell"], [3, 4]),
        (["wind", "a bell"], [5, 6]),
    ):
        attributes, _ = model._prepare_tokens_and_attributes(prompts, None)
        with torch.inference_mode(), per_clip_sampling(seeds, "cpu"):
            eager = lm_decode.fast_generate(model.lm, None, attributes, **kwargs)
        with torch.inference_mode(), per_clip_sampling(seeds, "cpu"):
            compiler = functools.partial(lm_compile.compiled_step, backend=counter)
            compiled = lm_decode.fast_generate(model.lm, None, attributes, compiler=compiler, **kwargs)
        assert torch.equal(eager, compiled), prompts
    assert counter.frame_count == 1  # one compile for the shape, reused by every later call


def test_the_unpatched_cache_would_have_stopped_cuda_graphs():
    """The check can fail: the same step with caches that are not marked static has mutated inputs."""
    from unittest import mock

    from raysynth.generators import lm_compile
    from raysynth.generators.audiogen import build_tiny_audiogen

    with mock.patch.object(torch._dynamo, "mark_static_address", lambda tensor, **kw: None):
        assert (
            len(lm_compile.unstatic_mutations(build_tiny_audiogen(seed=1).lm)) == 4
        )  # 2 layers x keys, values


def test_audiogen_generator_uses_the_fast_loop_and_falls_back_with_a_reason(caplog):
    from raysynth.generators.audiogen import AudioGenGenerator, build_tiny_audiogen

    fast, reference = (
        AudioGenGenerator(build_tiny_audiogen(), 30, 3.0, fast_decode=f) for f in (True, False)
    )
    assert (fast.decoding, reference.decoding) == ("fast", "reference")
    clips = [g.generate(["a bell rings", "wind"], [5, 6], 1.0) for g in (fast, reference)]
    assert all(np.array_equal(a, b) for a, b in zip(*clips, strict=True))
    model = build_tiny_audiogen()
    model.lm.two_step_cfg = True
    with caplog.at_level("WARNING"):
        assert (
            AudioGenGenerator(model, fast_decode=True).decoding
            == "reference (two_step_cfg runs guidance as two passes)"
        )
    assert "fast decoding does not support two_step_cfg" in caplog.text


def test_musicgen_static_cache_gives_the_reference_tokens():
    from raysynth.generators.musicgen import MusicGenGenerator, build_tiny_musicgen

    model, tokenizer = build_tiny_musicgen(seed=2)
    fast = MusicGenGenerator(model, tokenizer, "tiny", top_k=20, fast_decode=True)
    reference = MusicGenGenerator(model, tokenizer, "tiny", top_k=20, fast_decode=False)
    assert (
        fast.decode_kwargs["cache_implementation"] == "static"
        and "cache_implementation" not in reference.decode_kwargs
    )
    clips = [g.generate(["drums", "a slow piano tune"], [1, 2], 0.5) for g in (fast, reference)]
    assert all(np.array_equal(a, b) for a, b in zip(*clips, strict=True))
    assert np.abs(clips[0][0]).max() > 0


def test_execution_settings_stay_out_of_the_recipe():
    from raysynth.config import GenerationConfig
    from raysynth.generators import check_generation, generation_recipe

    on, off = (
        GenerationConfig(generator="audiogen"),
        GenerationConfig(generator="audiogen", fast_decode=False),
    )
    assert generation_recipe(on) == generation_recipe(off) and "fast_decode" not in generation_recipe(on)
    assert check_generation(on).fast_decode is True and check_generation(off).fast_decode is False
    with pytest.raises(GeneratorError, match="fast_decode, which audioldm2 does not read"):
        check_generation(GenerationConfig(generator="audioldm2", fast_decode=True))
