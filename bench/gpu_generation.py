"""GPU generation speed at real model size, random weights (weights do not change speed).

One short script for a lent GPU: it builds

* an AudioGen-medium-scale model from audiocraft's own modules (LM dim 1536, 48 layers, 24 heads,
  4 codebooks of 2048; a 16 kHz EnCodec at 50 Hz; a lookup-table text conditioner in place of
  T5-large, whose cost is one forward per batch), and
* an AudioLDM 2-base-size pipeline from diffusers' and transformers' own classes (UNet with
  128/256/384/640 channels, 8 latent channels, cross-attention to GPT-2 (768) and T5-large (1024);
  VAE, HiFi-GAN at 16 kHz, CLAP-base and T5-large text encoders, GPT-2 base),

and times raysynth's own generator classes on them (per-clip seeding included) for a 5 s clip:
batch 1 vs larger batches, fp32 vs bf16/fp16, and DDIM 200 steps vs DPM-Solver++ 25.

    uv run python bench/gpu_generation.py                 # on a GPU: real sizes
    uv run python bench/gpu_generation.py --size tiny     # anywhere: the same code at toy size
"""

from __future__ import annotations

import argparse
import time

import torch

from raysynth.generators.audiogen import (
    AudioGenGenerator,
    audiogen_config,
    audiogen_medium_config,
    build_audiogen_from_config,
    set_autocast,
)
from raysynth.generators.audioldm2 import AudioLDM2Generator, set_scheduler

PROMPTS = ["dog bark sound", "rain on a tin roof", "church bell sound", "a car engine starting"]


def timed(generator, batch: int, duration: float) -> float:
    """Clips/s of one call at ``batch`` (after a warm-up call of the same shape)."""
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    generator.generate(prompts, list(range(batch)), duration)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    generator.generate(prompts, list(range(100, 100 + batch)), duration)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return batch / (time.perf_counter() - start)


def sweep_batches(generator, batches: list[int], duration: float) -> dict[int, float]:
    """Clips/s per batch size, stopping at the first that runs out of memory."""
    speeds = {}
    for batch in batches:
        try:
            speeds[batch] = timed(generator, batch, duration)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            print(f"    batch {batch}: out of memory")
            break
    return speeds


def audioldm2_base(size: str, dtype: torch.dtype, device: str):
    """An AudioLDM 2 pipeline of the base model's size, random weights (``tiny``: the test model)."""
    from diffusers import (
        AudioLDM2Pipeline,
        AudioLDM2ProjectionModel,
        AudioLDM2UNet2DConditionModel,
        AutoencoderKL,
        DDIMScheduler,
    )
    from transformers import (
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
    )  # fmt: skip

    from raysynth.generators.audioldm2 import build_tiny_audioldm2
    from raysynth.generators.base import eval_components
    from raysynth.generators.tiny_tokenizers import tiny_roberta_tokenizer, tiny_t5_tokenizer

    if size == "tiny":
        return build_tiny_audioldm2().to(device=device, dtype=dtype)
    torch.manual_seed(0)
    unet = AudioLDM2UNet2DConditionModel(
        in_channels=8, out_channels=8, block_out_channels=(128, 256, 384, 640), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 768, 1024],) * 4, attention_head_dim=8,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=1, out_channels=1, latent_channels=8, block_out_channels=[128, 256, 512],
        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
    )  # fmt: skip
    # Real-size text models; the tokenizers are small, which does not change the speed per token.
    tokenizer, tokenizer_2 = tiny_roberta_tokenizer(), tiny_t5_tokenizer()
    text = ClapTextConfig(
        vocab_size=len(tokenizer), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, projection_dim=512, bos_token_id=0, pad_token_id=1, eos_token_id=2,
    )  # fmt: skip
    t5 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=1024, d_ff=2816, d_kv=64, num_heads=16, num_layers=24,
                 feed_forward_proj="gated-gelu")
    )  # fmt: skip
    language_model = GPT2LMHeadModel(
        GPT2Config(n_embd=768, n_head=12, n_layer=12, bos_token_id=0, eos_token_id=0)
    )
    language_model.config.max_new_tokens = 8
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=64, sampling_rate=16000, upsample_initial_channel=1024, upsample_rates=[5, 4, 2, 2, 2],
            upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
            resblock_dilation_sizes=[[1, 3, 5]] * 3, normalize_before=False,
        )
    )  # fmt: skip
    pipeline = AudioLDM2Pipeline(
        unet=unet, vae=vae, text_encoder=ClapModel(ClapConfig(text_config=text.to_dict(), projection_dim=512)),
        text_encoder_2=t5, tokenizer=tokenizer, tokenizer_2=tokenizer_2, feature_extractor=ClapFeatureExtractor(),
        language_model=language_model, vocoder=vocoder,
        projection_model=AudioLDM2ProjectionModel(text_encoder_dim=512, text_encoder_1_dim=1024, langauge_model_dim=768),
        scheduler=DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear"),
    )  # fmt: skip
    print(f"  AudioLDM 2 UNet: {sum(p.numel() for p in unet.parameters()) / 1e6:.0f} M parameters")
    return eval_components(pipeline).to(device=device, dtype=dtype)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=["real", "tiny"], default="real")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--half", choices=["bf16", "fp16"], default="fp16")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    card = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.half]
    print(f"device: {card}; size: {args.size}; {args.duration:g} s clips; batches {args.batches}")

    print(
        "AudioGen (medium scale: dim 1536, 48 layers, 24 heads)" if args.size == "real" else "AudioGen (tiny)"
    )
    cfg = audiogen_medium_config() if args.size == "real" else audiogen_config()
    model = build_audiogen_from_config(cfg, device=device, name="bench")
    print(f"  LM: {sum(p.numel() for p in model.lm.parameters()) / 1e6:.0f} M parameters")
    generator = AudioGenGenerator(model, top_k=250, guidance=3.0)
    for name in ("fp32", args.half):
        set_autocast(model, name)
        speeds = sweep_batches(generator, args.batches, args.duration)
        best = max(speeds, key=speeds.get)
        print(f"  {name}: " + ", ".join(f"batch {b} {s:.2f} clips/s" for b, s in speeds.items())
              + f"; best/batch-1 {speeds[best] / speeds[1]:.1f}x")  # fmt: skip
    del model, generator
    if device == "cuda":
        torch.cuda.empty_cache()

    print("AudioLDM 2 (base size)" if args.size == "real" else "AudioLDM 2 (tiny)")
    for name, dtype in (("fp32", torch.float32), (args.half, half)):
        generator = AudioLDM2Generator(audioldm2_base(args.size, dtype, device), "bench", steps=25)
        set_scheduler(generator.pipeline, "dpm")
        speeds = sweep_batches(generator, args.batches, args.duration)
        best = max(speeds, key=speeds.get)
        print(f"  {name}, DPM-Solver++ 25: " + ", ".join(f"batch {b} {s:.2f} clips/s" for b, s in speeds.items())
              + f"; best/batch-1 {speeds[best] / speeds[1]:.1f}x")  # fmt: skip
        if name != "fp32":
            set_scheduler(generator.pipeline, "ddim")
            generator.steps = 200
            ddim = timed(generator, best, args.duration)
            print(f"  {name}, DDIM 200 at batch {best}: {ddim:.2f} clips/s; DPM-Solver++ 25 is "
                  f"{speeds[best] / ddim:.1f}x faster")  # fmt: skip
        del generator
        if device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
