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
    return build_random_audiogen(seed=seed, device=device)


def build_random_audiogen(
    dim: int = 16,
    num_heads: int = 4,
    num_layers: int = 2,
    card: int = 400,
    full_codec: bool = False,
    seed: int = 0,
    device: str = "cpu",
) -> AudioGen:
    """An AudioGen of audiocraft's own modules with random weights, at any size (for tests and benchmarks).

    Args:
        dim, num_heads, num_layers, card: the language model (AudioGen-medium: 1536, 24, 48, 2048).
        full_codec: a 16 kHz EnCodec at 50 Hz of the released size (SEANet with 64 filters, ratios
            8-5-4-2, 128 dimensions, 4 codebooks of ``card``) instead of audiocraft's debug codec
            (25 Hz, 400 bins, so ``card`` must be 400).
    """
    from audiocraft.models import AudioGen
    from audiocraft.models.builders import get_debug_compression_model
    from audiocraft.models.encodec import EncodecModel
    from audiocraft.models.lm import LMModel
    from audiocraft.modules import SEANetDecoder, SEANetEncoder
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider, LUTConditioner
    from audiocraft.quantization import ResidualVectorQuantizer

    torch.manual_seed(seed)
    if full_codec:
        seanet = {
            "n_filters": 64,
            "n_residual_layers": 1,
            "dimension": 128,
            "ratios": [8, 5, 4, 2],
            "lstm": 2,
        }
        quantizer = ResidualVectorQuantizer(dimension=128, bins=card, n_q=4)
        quantizer(torch.randn(8, 128, 64), 50)  # initialise the codebooks
        compression = (
            EncodecModel(
                SEANetEncoder(**seanet),
                SEANetDecoder(**seanet),
                quantizer,
                frame_rate=50,
                sample_rate=16000,
                channels=1,
            )
            .to(device)
            .eval()
        )
    else:
        compression = get_debug_compression_model(device, sample_rate=16000)
    conditioner = LUTConditioner(n_bins=128, dim=dim, output_dim=dim, tokenizer="noop")
    fuser = ConditionFuser({"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []})
    lm = LMModel(
        DelayedPatternProvider(n_q=4),
        ConditioningProvider({"description": conditioner}),
        fuser,
        n_q=4,
        card=card,
        dim=dim,
        num_heads=num_heads,
        custom=True,
        num_layers=num_layers,
        cross_attention=True,
        causal=True,
    )
    name = TINY_MODEL_ID if (dim, num_layers) == (16, 2) else f"raysynth/random-audiogen-{dim}x{num_layers}"
    return AudioGen(name, compression, lm.to(device).eval(), max_duration=10)


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
    settings={"dtype": "fp32", "guidance": 3.0, "top_k": 250},
)(AudioGenGenerator.from_config)
