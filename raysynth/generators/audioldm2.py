"""AudioLDM 2 (Liu et al., 2024) through diffusers: text to 16 kHz sound, speech or music.

The real model loads with ``AudioLDM2Pipeline.from_pretrained`` from the hub (``cvssp/audioldm2``,
``cvssp/audioldm2-large``, ``cvssp/audioldm2-music``) or from a local ``save_pretrained`` folder.
The sampler is DPM-Solver++ (25 steps match DDIM's 200 in quality) unless the spec asks for DDIM.
:func:`build_tiny_audioldm2` builds the same classes at toy size with random weights, offline.
"""

from __future__ import annotations

from collections import OrderedDict
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
from raysynth.generators.tiny_tokenizers import tiny_roberta_tokenizer, tiny_t5_tokenizer

if TYPE_CHECKING:
    from diffusers import AudioLDM2Pipeline

    from raysynth.config import GenerationConfig

DEFAULT_MODEL_ID = "cvssp/audioldm2"
TINY_MODEL_ID = "raysynth/tiny-audioldm2"
ENCODED_CACHE_SIZE = 512


def build_tiny_audioldm2(seed: int = 0) -> AudioLDM2Pipeline:
    """``AudioLDM2Pipeline`` of diffusers' and transformers' own classes at toy size, random weights.

    Sizes follow diffusers' fast tests. The vocoder's last layer is scaled so that random weights give
    an audible signal rather than one the quality guard rejects as silence.
    """
    from diffusers import (
        AudioLDM2Pipeline,
        AudioLDM2ProjectionModel,
        AudioLDM2UNet2DConditionModel,
        AutoencoderKL,
        DPMSolverMultistepScheduler,
    )
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(seed)
    tokenizer, tokenizer_2 = tiny_roberta_tokenizer(), tiny_t5_tokenizer()
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
    )
    text_config = ClapTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, vocab_size=len(tokenizer), hidden_size=16,
        intermediate_size=37, num_attention_heads=2, num_hidden_layers=2, projection_dim=16,
    )  # fmt: skip
    audio_config = ClapAudioConfig(
        spec_size=64, window_size=4, num_mel_bins=64, intermediate_size=37, depths=[2, 2],
        num_attention_heads=[2, 2], num_hidden_layers=2, hidden_size=192, projection_dim=16,
        patch_size=2, patch_stride=2, patch_embed_input_channels=4,
    )  # fmt: skip
    clap = ClapModel(
        ClapConfig(text_config=text_config.to_dict(), audio_config=audio_config.to_dict(), projection_dim=16)
    )
    t5 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2)
    )
    language_model = GPT2LMHeadModel(
        GPT2Config(n_embd=16, n_head=2, n_layer=2, vocab_size=1000, n_ctx=99, n_positions=99,
                   bos_token_id=0, eos_token_id=0)
    )  # fmt: skip
    language_model.config.max_new_tokens = 8
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[8, 8],
            upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3, 7],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], normalize_before=False,
        )
    )  # fmt: skip
    with torch.no_grad():
        vocoder.conv_post.weight.mul_(3e3)
    pipeline = AudioLDM2Pipeline(
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
        ),
        vae=vae,
        text_encoder=clap,
        text_encoder_2=t5,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(),
        language_model=language_model,
        projection_model=AudioLDM2ProjectionModel(
            text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16
        ),
        vocoder=vocoder,
    )
    return eval_components(pipeline)


def load_audioldm2(model_id: str, dtype: torch.dtype) -> AudioLDM2Pipeline:
    """``AudioLDM2Pipeline.from_pretrained``, with the language model loaded as ``GPT2LMHeadModel``.

    The hub folders name a ``GPT2Model``; diffusers' generation loop needs the generation methods
    that only ``GPT2LMHeadModel`` has under transformers 5, and the weights are the same.
    """
    from diffusers import AudioLDM2Pipeline
    from transformers import GPT2LMHeadModel

    try:
        language_model = GPT2LMHeadModel.from_pretrained(model_id, subfolder="language_model", dtype=dtype)
        return AudioLDM2Pipeline.from_pretrained(model_id, language_model=language_model, torch_dtype=dtype)
    except Exception as error:  # hub, network and file errors all surface differently
        raise hub_error("AudioLDM2", model_id, error, "model_index.json and the component folders") from error


def set_scheduler(pipeline, name: str) -> None:
    """DPM-Solver++ (multistep, 2nd order) or DDIM, both from the checkpoint's own noise schedule."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    cls = {"dpm": DPMSolverMultistepScheduler, "ddim": DDIMScheduler}[name]
    pipeline.scheduler = cls.from_config(pipeline.scheduler.config)


class AudioLDM2Generator:
    """Batched AudioLDM 2 inference with one seeded ``torch.Generator`` per clip.

    Args:
        pipeline: a loaded ``AudioLDM2Pipeline``.
        model_id: the id recorded in shards.
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        negative_prompt: applied to every clip (``None``: unconditional).
    """

    name = "audioldm2"

    def __init__(
        self,
        pipeline: AudioLDM2Pipeline,
        model_id: str,
        steps: int = 25,
        guidance: float = 3.5,
        negative_prompt: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.pipeline.set_progress_bar_config(disable=True)
        self.model_id = model_id
        self.sample_rate = int(pipeline.vocoder.config.sampling_rate)
        self.steps, self.guidance, self.negative_prompt = steps, guidance, negative_prompt
        # LLM prompts rarely repeat, so the cache is bounded (each entry is ~150 kB at full size).
        self._encoded: OrderedDict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = OrderedDict()

    @classmethod
    def from_config(cls, config: GenerationConfig) -> AudioLDM2Generator:
        model_id, pipeline = diffusion_pipeline(
            config, build_tiny_audioldm2, load_audioldm2, TINY_MODEL_ID, DEFAULT_MODEL_ID, "unet"
        )
        set_scheduler(pipeline, config.scheduler or "dpm")
        return cls(pipeline, model_id, config.steps or 25, config.guidance, config.negative_prompt)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Text embeddings, their mask and the GPT-2 embeddings, each text encoded on its own.

        The pipeline pads a batch's T5 tokens to its longest prompt, and GPT-2 then continues after
        the padding, so a batched clip would depend on its neighbours. Encoding one text at a time
        (cached: label prompts repeat) and padding with masked positions afterwards keeps clips
        independent.
        """
        device = self.pipeline.device
        for text in set(texts) - self._encoded.keys():
            embeds, mask, generated = self.pipeline.encode_prompt([text], device, 1, False)
            self._encoded[text] = (embeds[0], mask[0], generated[0])
        parts = [self._encoded[text] for text in texts]
        for text in texts:
            self._encoded.move_to_end(text)
        while len(self._encoded) > ENCODED_CACHE_SIZE:
            self._encoded.popitem(last=False)
        length = max(embeds.shape[0] for embeds, _, _ in parts)
        embeds = torch.stack(
            [torch.nn.functional.pad(e, (0, 0, 0, length - e.shape[0])) for e, _, _ in parts]
        )
        masks = torch.stack([torch.nn.functional.pad(m, (0, length - m.shape[0])) for _, m, _ in parts])
        return embeds, masks, torch.stack([g for _, _, g in parts])

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """Generate one clip per prompt; clip b depends only on its prompt and ``seeds[b]``."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        device = self.pipeline.device
        # Initial latents are drawn per clip from its own generator; the solvers are deterministic.
        generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        negative = [self.negative_prompt or ""] * len(prompts)
        with torch.inference_mode():
            embeds, mask, generated = self.encode(prompts + negative)
            n = len(prompts)
            audios = self.pipeline(
                prompt_embeds=embeds[:n],
                attention_mask=mask[:n],
                generated_prompt_embeds=generated[:n],
                negative_prompt_embeds=embeds[n:],
                negative_attention_mask=mask[n:],
                negative_generated_prompt_embeds=generated[n:],
                audio_length_in_s=duration_s,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                generator=generators,
                output_type="np",
            ).audios
        num_samples = int(round(duration_s * self.sample_rate))
        return [fix_length(np.asarray(clip, dtype=np.float32), num_samples) for clip in audios]


register_generator(
    "audioldm2",
    default_model_id=DEFAULT_MODEL_ID,
    tiny_model_id=TINY_MODEL_ID,
    max_duration_s=30.0,
    batch_size=8,
    settings={"dtype": "fp32", "guidance": 3.5, "steps": 25, "scheduler": "dpm", "negative_prompt": None},
    execution={"compile": False},
    schedulers=("dpm", "ddim"),
    licences={
        "engine": "diffusers AudioLDM 2 (Apache-2.0 code)",
        "voice": "cvssp/audioldm2 weights: CC-BY-NC-SA-4.0 (its model card)",
    },
)(AudioLDM2Generator.from_config)
