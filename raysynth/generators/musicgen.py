"""MusicGen (Copet et al., 2023) through transformers: text to 32 kHz music.

The real model loads with ``MusicgenForConditionalGeneration.from_pretrained`` (``facebook/musicgen-small``,
``-medium``, ``-large``) from the hub or a local ``save_pretrained`` folder, with its tokenizer.
Sampling is top-k with classifier-free guidance, as in the paper. :func:`build_tiny_musicgen` builds
the same classes at toy size with random weights, offline.

Per-clip seeds: transformers samples a whole batch from the global RNG, so a clip would depend on
its batch. Here sampling is the Gumbel-max trick (argmax of logits plus Gumbel noise, which draws
exactly from the softmax), with the noise of clip b drawn from its own generator, and the
decoding itself greedy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from raysynth.audio import fix_length
from raysynth.generators.base import hub_error, register_generator, torch_dtype
from raysynth.generators.tiny_tokenizers import tiny_t5_tokenizer

if TYPE_CHECKING:
    from transformers import MusicgenForConditionalGeneration, PreTrainedTokenizerBase

    from raysynth.config import GenerationConfig

DEFAULT_MODEL_ID = "facebook/musicgen-small"
TINY_MODEL_ID = "raysynth/tiny-musicgen"


def build_tiny_musicgen(seed: int = 0) -> tuple[MusicgenForConditionalGeneration, PreTrainedTokenizerBase]:
    """``MusicgenForConditionalGeneration`` (T5 text encoder, EnCodec, 4-codebook decoder) at toy size."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    torch.manual_seed(seed)
    tokenizer = tiny_t5_tokenizer()
    codebook_size = 64
    text = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2)
    audio = EncodecConfig(
        sampling_rate=32000, hidden_size=32, num_filters=4, compress=2, codebook_size=codebook_size,
        codebook_dim=32, upsampling_ratios=[8, 5, 4, 2], target_bandwidths=[4.0], num_lstm_layers=1,
        use_causal_conv=False, normalize=False,
    )  # fmt: skip
    # As in the real checkpoints, the pad/start token is one past the codebook.
    decoder = MusicgenDecoderConfig(
        vocab_size=codebook_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, ffn_dim=64,
        num_codebooks=4, pad_token_id=codebook_size, bos_token_id=codebook_size, max_position_embeddings=1024,
    )  # fmt: skip
    config = MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict()
    )
    model = MusicgenForConditionalGeneration(config).eval()
    # EnCodec's codebooks are buffers filled from a checkpoint (zeros at init): give them random codes.
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.normal_()
    model.generation_config.decoder_start_token_id = codebook_size
    model.generation_config.pad_token_id = codebook_size
    model.generation_config.max_length = 1024
    return model, tokenizer


def load_musicgen(model_id: str, dtype: torch.dtype):
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    try:
        model = MusicgenForConditionalGeneration.from_pretrained(model_id, dtype=dtype)
        return model.eval(), AutoTokenizer.from_pretrained(model_id)
    except Exception as error:  # hub, network and file errors all surface differently
        raise hub_error(
            "MusicGen", model_id, error, "config.json, the weights and the tokenizer files"
        ) from error


def _processors(seeds: list[int], num_codebooks: int, top_k: int, guidance: float, device):
    """Guidance, then top-k, then per-clip Gumbel noise, in that order (see the module docstring)."""
    from transformers import (
        ClassifierFreeGuidanceLogitsProcessor,
        LogitsProcessor,
        LogitsProcessorList,
        TopKLogitsWarper,
    )

    class PerClipGumbel(LogitsProcessor):
        def __init__(self) -> None:
            self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if scores.shape[0] != len(self.generators) * num_codebooks:
                raise RuntimeError(
                    f"expected {len(self.generators)} x {num_codebooks} rows, got {scores.shape[0]}"
                )
            shape = (num_codebooks, scores.shape[-1])
            uniform = torch.stack(
                [torch.rand(shape, generator=g, device=scores.device) for g in self.generators]
            ).clamp_min(1e-20)
            gumbel = -torch.log(-torch.log(uniform)).reshape(scores.shape)
            return scores.float() + gumbel

    class GuidanceFirst(LogitsProcessorList):
        # MusicGen appends its guidance processor to the caller's list; guidance has to come first.
        def append(self, processor) -> None:
            if isinstance(processor, ClassifierFreeGuidanceLogitsProcessor):
                self.insert(0, processor)
            else:
                super().append(processor)

    return GuidanceFirst([TopKLogitsWarper(top_k), PerClipGumbel()])


class MusicGenGenerator:
    """Batched MusicGen inference with per-clip seeded sampling.

    Args:
        model: a loaded ``MusicgenForConditionalGeneration``.
        tokenizer: its text tokenizer.
        model_id: the id recorded in shards.
        top_k: top-k sampling.
        guidance: classifier-free guidance scale.
    """

    name = "musicgen"

    def __init__(
        self, model, tokenizer, model_id: str, top_k: int = 250, guidance: float = 3.0, fast_decode: bool = True,
        compile: bool = False,
    ) -> None:  # fmt: skip
        self.model, self.tokenizer, self.model_id = model, tokenizer, model_id
        # Fast decoding: transformers' static key/value cache (fixed shapes; with it transformers
        # captures the decode step in CUDA graphs on a GPU when compile is on). Attention is
        # already SDPA and guidance one batched forward. Greedy decoding over the per-clip noise
        # gives the same tokens either way (tests/test_generators.py).
        self.decode_kwargs: dict = {"cache_implementation": "static"} if fast_decode else {}
        self.decode_kwargs["disable_compile"] = not compile
        self.sample_rate = int(model.config.audio_encoder.sampling_rate)
        self.frame_rate = float(model.config.audio_encoder.frame_rate)
        self.num_codebooks = int(model.decoder.config.num_codebooks)
        self.top_k, self.guidance = top_k, guidance

    @classmethod
    def from_config(cls, config: GenerationConfig) -> MusicGenGenerator:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch_dtype(config.dtype)
        if config.tiny:
            model_id = TINY_MODEL_ID
            model, tokenizer = build_tiny_musicgen(seed=config.seed)
            model = model.to(dtype=dtype)
        else:
            model_id = config.model_id or DEFAULT_MODEL_ID
            model, tokenizer = load_musicgen(model_id, dtype)
        return cls(
            model.to(device), tokenizer, model_id, config.top_k, config.guidance, bool(config.fast_decode),
            bool(config.compile),
        )  # fmt: skip

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """Generate one clip per prompt; clip b depends only on its prompt and ``seeds[b]``."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        device = self.model.device
        inputs = self.tokenizer(prompts, padding=True, return_tensors="pt").to(device)
        # The delay pattern costs num_codebooks - 1 extra steps.
        steps = int(np.ceil(duration_s * self.frame_rate)) + self.num_codebooks - 1
        processors = _processors(seeds, self.num_codebooks, self.top_k, self.guidance, device)
        with torch.inference_mode():
            audio = self.model.generate(
                **inputs,
                do_sample=False,
                guidance_scale=self.guidance,
                max_new_tokens=steps,
                logits_processor=processors,
                **self.decode_kwargs,
            )
        num_samples = int(round(duration_s * self.sample_rate))
        return [fix_length(clip[0].float().cpu().numpy(), num_samples) for clip in audio]


register_generator(
    "musicgen",
    default_model_id=DEFAULT_MODEL_ID,
    tiny_model_id=TINY_MODEL_ID,
    max_duration_s=30.0,
    batch_size=16,
    settings={"dtype": "fp32", "guidance": 3.0, "top_k": 250},
    execution={"fast_decode": True, "compile": False},
    licences={
        "engine": "transformers MusicGen (Apache-2.0 code)",
        "voice": "facebook/musicgen weights: CC-BY-NC-4.0 (their model cards)",
    },
)(MusicGenGenerator.from_config)
