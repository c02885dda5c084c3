"""Stable Audio Open (Evans et al., 2024) through diffusers: text to 44.1 kHz stereo, up to 47 s.

The real model loads with ``StableAudioPipeline.from_pretrained('stabilityai/stable-audio-open-1.0')``,
which is gated on the hub: accept its licence, log in, and download it on a machine with network
access. It samples with its own DPM-Solver++ (SDE, cosine schedule), whose Brownian noise is seeded
per clip from the clip's generator. Clips are down-mixed to mono. :func:`build_tiny_stable_audio`
builds the same classes at toy size with random weights, offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from raysynth.audio import fix_length
from raysynth.generators.base import (
    diffusion_pipeline,
    eval_components,
    hub_error,
    register_generator,
)
from raysynth.generators.tiny_tokenizers import tiny_t5_tokenizer

if TYPE_CHECKING:
    from diffusers import StableAudioPipeline

    from raysynth.config import GenerationConfig

DEFAULT_MODEL_ID = "stabilityai/stable-audio-open-1.0"
TINY_MODEL_ID = "raysynth/tiny-stable-audio"


def build_tiny_stable_audio(seed: int = 0) -> StableAudioPipeline:
    """``StableAudioPipeline`` (DiT, Oobleck VAE, T5) at toy size, 44.1 kHz, up to 1.49 s, random weights."""
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    tokenizer = tiny_t5_tokenizer(max_length=32)
    transformer = StableAudioDiTModel(
        sample_size=128, in_channels=3, num_layers=2, attention_head_dim=4, num_attention_heads=2,
        num_key_value_attention_heads=2, out_channels=3, cross_attention_dim=4, time_proj_dim=8,
        global_states_input_dim=8, cross_attention_input_dim=4,
    )  # fmt: skip
    # A hop of 2 * 4 * 8 * 8 = 512 samples per latent frame (the real VAE: 2048).
    vae = AutoencoderOobleck(
        encoder_hidden_size=6, downsampling_ratios=[2, 4, 8, 8], decoder_channels=3, decoder_input_channels=3,
        audio_channels=2, channel_multiples=[1, 2, 2, 4], sampling_rate=44100,
    )  # fmt: skip
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2)
    )
    projection = StableAudioProjectionModel(
        text_encoder_dim=32, conditioning_dim=4, min_value=0, max_value=32
    )
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    pipeline = StableAudioPipeline(
        transformer=transformer, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, projection_model=projection,
    )  # fmt: skip
    return eval_components(pipeline)


def load_stable_audio(model_id: str, dtype: torch.dtype) -> StableAudioPipeline:
    from diffusers import StableAudioPipeline

    try:
        return StableAudioPipeline.from_pretrained(model_id, torch_dtype=dtype)
    except Exception as error:  # hub, network, licence and file errors all surface differently
        raise hub_error(
            "Stable Audio", model_id, error,
            "model_index.json and the component folders (the hub repo is gated: accept the licence first)",
        ) from error  # fmt: skip


class StableAudioGenerator:
    """Batched Stable Audio inference with one seeded ``torch.Generator`` per clip.

    Args:
        pipeline: a loaded ``StableAudioPipeline``.
        model_id: the id recorded in shards.
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        negative_prompt: applied to every clip (``None``: unconditional).
    """

    name = "stable_audio"

    def __init__(
        self,
        pipeline: StableAudioPipeline,
        model_id: str,
        steps: int = 50,
        guidance: float = 7.0,
        negative_prompt: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.pipeline.set_progress_bar_config(disable=True)
        self.model_id = model_id
        self.sample_rate = int(pipeline.vae.config.sampling_rate)
        config = pipeline.transformer.config
        self.max_duration_s = config.sample_size * pipeline.vae.hop_length / self.sample_rate
        self.steps, self.guidance, self.negative_prompt = steps, guidance, negative_prompt

    @classmethod
    def from_config(cls, config: GenerationConfig) -> StableAudioGenerator:
        model_id, pipeline = diffusion_pipeline(
            config, build_tiny_stable_audio, load_stable_audio, TINY_MODEL_ID, DEFAULT_MODEL_ID, "transformer"
        )
        return cls(pipeline, model_id, config.steps or 50, config.guidance, config.negative_prompt)

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """Generate one clip per prompt; clip b depends only on its prompt and ``seeds[b]``."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        if not 0 < duration_s <= self.max_duration_s:
            raise ValueError(f"duration_s has to be in (0, {self.max_duration_s:.2f}], but is {duration_s}")
        device = self.pipeline.device
        generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        negative = [self.negative_prompt] * len(prompts) if self.negative_prompt else None
        with torch.inference_mode():
            audios = self.pipeline(
                prompts,
                negative_prompt=negative,
                audio_end_in_s=duration_s,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                generator=generators,
                output_type="pt",
            ).audios
        num_samples = int(round(duration_s * self.sample_rate))
        return [fix_length(clip.float().mean(dim=0).cpu().numpy(), num_samples) for clip in audios]


register_generator(
    "stable_audio",
    default_model_id=DEFAULT_MODEL_ID,
    tiny_model_id=TINY_MODEL_ID,
    max_duration_s=47.0,
    batch_size=4,
    settings={"dtype": "fp32", "guidance": 7.0, "steps": 50, "scheduler": "dpm", "negative_prompt": None},
    execution={"compile": False},
    schedulers=("dpm",),
    licences={
        "engine": "diffusers Stable Audio (Apache-2.0 code)",
        "voice": "stabilityai/stable-audio-open-1.0 weights: Stability AI Community License (its model card)",
    },
)(StableAudioGenerator.from_config)
