"""AudioGen (Kreuk et al., 2023) through audiocraft: text to 16 kHz general sound.

The real model loads with ``AudioGen.get_pretrained('facebook/audiogen-medium')``, from the
Hugging Face hub or a local directory holding ``compression_state_dict.bin`` and
``state_dict.bin``. :func:`build_tiny_audiogen` builds the same classes at toy size with random
weights, offline, for tests and ``--smoke-test``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch

from raysynth.audio import fix_length
from raysynth.generators.base import hub_error, register_generator, torch_dtype

if TYPE_CHECKING:
    from audiocraft.models import AudioGen

    from raysynth.config import GenerationConfig

DEFAULT_MODEL_ID = "facebook/audiogen-medium"
TINY_MODEL_ID = "raysynth/tiny-audiogen"


def build_tiny_audiogen(seed: int = 0, device: str = "cpu") -> AudioGen:
    """AudioGen made of audiocraft's own modules at toy size, random weights, no download.

    Like audiocraft's ``'debug'`` model, but with the ``noop`` tokenizer (the ``whitespace``
    one needs a spaCy model download).
    """
    from audiocraft.models import AudioGen
    from audiocraft.models.builders import get_debug_compression_model
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider, LUTConditioner

    torch.manual_seed(seed)
    dim = 16
    compression = get_debug_compression_model(device, sample_rate=16000)
    conditioner = LUTConditioner(n_bins=128, dim=dim, output_dim=dim, tokenizer="noop")
    fuser = ConditionFuser({"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []})
    lm = LMModel(
        DelayedPatternProvider(n_q=4),
        ConditioningProvider({"description": conditioner}),
        fuser,
        n_q=4,
        card=400,
        dim=dim,
        num_heads=4,
        custom=True,
        num_layers=2,
        cross_attention=True,
        causal=True,
    )
    return AudioGen(TINY_MODEL_ID, compression, lm.to(device).eval(), max_duration=10)


def load_audiogen(model_id: str, device: str) -> AudioGen:
    """``AudioGen.get_pretrained`` with an error that says how to get the weights offline."""
    from audiocraft.models import AudioGen

    try:
        return AudioGen.get_pretrained(model_id, device=device)
    except Exception as error:  # hub, network and file errors all surface differently
        raise hub_error(
            "AudioGen", model_id, error, "compression_state_dict.bin and state_dict.bin"
        ) from error


def set_autocast(model: AudioGen, dtype: str) -> None:
    """audiocraft runs fp16 autocast on any GPU by default; fp32 turns it off, bf16 swaps the type."""
    from audiocraft.utils.autocast import TorchAutocast

    enabled = dtype != "fp32" and model.device.type != "cpu"
    model.autocast = TorchAutocast(enabled=enabled, device_type=model.device.type, dtype=torch_dtype(dtype))


@contextmanager
def per_clip_sampling(seeds: list[int], device: torch.device | str):
    """Make audiocraft's token sampling draw row b of a batch from its own generator, seeded ``seeds[b]``.

    audiocraft samples a whole batch from the global RNG, so a clip would depend on its batch.
    All of its samplers (top-k, top-p, plain) end in ``audiocraft.utils.utils.multinomial``; this
    replaces it for the duration of one ``generate`` call.
    """
    from audiocraft.utils import utils as ac_utils

    generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
    original = ac_utils.multinomial

    def multinomial(input: torch.Tensor, num_samples: int, replacement: bool = False, *, generator=None):
        if input.shape[0] != len(generators):
            return original(input, num_samples, replacement, generator=generator)
        rows = [
            torch.multinomial(row.reshape(-1, row.shape[-1]), num_samples, replacement, generator=g).reshape(
                *row.shape[:-1], -1
            )
            for row, g in zip(input, generators, strict=True)
        ]
        return torch.stack(rows)

    ac_utils.multinomial = multinomial
    try:
        yield
    finally:
        ac_utils.multinomial = original


class AudioGenGenerator:
    """Batched AudioGen inference.

    Args:
        model: a loaded ``AudioGen``.
        top_k: top-k sampling of the language model.
        guidance: classifier-free guidance coefficient.
    """

    name = "audiogen"

    def __init__(self, model: AudioGen, top_k: int = 250, guidance: float = 3.0) -> None:
        self.model = model
        self.model_id = model.name
        self.sample_rate = int(model.sample_rate)
        self.top_k = top_k
        self.guidance = guidance

    @classmethod
    def from_config(cls, config: GenerationConfig) -> AudioGenGenerator:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if config.tiny:
            model = build_tiny_audiogen(seed=config.seed, device=device)
        else:
            model = load_audiogen(config.model_id or DEFAULT_MODEL_ID, device)
        set_autocast(model, config.dtype)
        return cls(model, top_k=config.top_k, guidance=config.guidance)

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """Generate one clip per prompt; clip b depends only on its prompt and ``seeds[b]``, not on its batch."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        if not 0 < duration_s <= self.model.max_duration:
            raise ValueError(f"duration_s has to be in (0, {self.model.max_duration}], but is {duration_s}")
        self.model.set_generation_params(duration=duration_s, top_k=self.top_k, cfg_coef=self.guidance)
        torch.manual_seed(seeds[0])
        with torch.inference_mode(), per_clip_sampling(seeds, self.model.device):
            wav = self.model.generate(prompts, progress=False)
        # The LM works in whole codec frames; pad or crop to the exact requested length.
        num_samples = int(round(duration_s * self.sample_rate))
        return [fix_length(clip[0].float().cpu().numpy(), num_samples) for clip in wav]


register_generator(
    "audiogen",
    default_model_id=DEFAULT_MODEL_ID,
    tiny_model_id=TINY_MODEL_ID,
    max_duration_s=10.0,
    batch_size=32,
    guidance=3.0,
)(AudioGenGenerator.from_config)
