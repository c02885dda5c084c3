import numpy as np
import pytest

from raysynth.config import GenerationConfig
from raysynth.generators import GENERATORS, GeneratorError, build_generator, resolve_model_id
from raysynth.generators.audiogen import AudioGenGenerator, build_tiny_audiogen


@pytest.fixture(scope="module")
def tiny() -> AudioGenGenerator:
    return build_generator(GenerationConfig(generator="audiogen", tiny=True, top_k=50))


def test_tiny_audiogen_shape_and_rate(tiny):
    clips = tiny.generate(["dog bark sound", "rain sound"], [1, 2], duration_s=0.5)
    assert tiny.sample_rate == 16000
    assert [c.shape for c in clips] == [(8000,), (8000,)]
    assert all(c.dtype == np.float32 and np.isfinite(c).all() and c.std() > 0 for c in clips)


def test_same_seed_same_batch(tiny):
    first = tiny.generate(["a", "b"], [5, 6], 0.3)
    again = tiny.generate(["a", "b"], [5, 6], 0.3)
    other = tiny.generate(["a", "b"], [7, 8], 0.3)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_tiny_weights_are_seeded():
    a, b = build_tiny_audiogen(seed=0), build_tiny_audiogen(seed=0)
    for (name, pa), (_, pb) in zip(a.lm.named_parameters(), b.lm.named_parameters(), strict=True):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy()), name


def test_duration_out_of_range(tiny):
    with pytest.raises(ValueError, match=r"duration_s has to be in \(0, 10"):
        tiny.generate(["a"], [0], 12.0)


def test_unknown_generator_lists_registered():
    with pytest.raises(GeneratorError, match="unknown generator 'audiogenn'.*audiogen"):
        build_generator(GenerationConfig(generator="audiogenn"))
    assert "audiogen" in GENERATORS


def test_model_ids():
    assert resolve_model_id(GenerationConfig()) == "facebook/audiogen-medium"
    assert resolve_model_id(GenerationConfig(tiny=True)) == "raysynth/tiny-audiogen"
    assert resolve_model_id(GenerationConfig(model_id="/models/ag")) == "/models/ag"


def test_unreachable_model_names_id_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = GenerationConfig(model_id="facebook/audiogen-medium", num_gpus=0)
    with pytest.raises(GeneratorError) as info:
        build_generator(config)
    message = str(info.value)
    assert "facebook/audiogen-medium" in message and "huggingface-cli download" in message
