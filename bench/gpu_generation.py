"""GPU generation speed at real model size, random weights (weights do not change speed).

One short script for a lent GPU (a whole default run is sized for one call of at most 7 minutes,
model builds included). It builds

* an AudioGen-medium-scale model from audiocraft's own modules, configured as audiocraft's
  ``config/model/lm/audiogen_lm.yaml`` with the medium scale (``audiogen_medium_config``: LM dim
  1536, 48 layers, 24 heads, 4 codebooks of 2048, delay [0, 1, 2, 3], memory_efficient, no
  biases, norm_first; a 16 kHz EnCodec at 50 Hz with random codebooks, no k-means; a lookup-table
  text conditioner in place of T5-large, whose cost is one forward per batch),
* an AudioLDM 2-base-size pipeline from diffusers' and transformers' own classes (UNet with
  128/256/384/640 channels, 8 latent channels, cross-attention to GPT-2 (768) and T5-large (1024);
  VAE, HiFi-GAN at 16 kHz, CLAP-base and T5-large text encoders, GPT-2 base),
* a MusicGen-small-size model from transformers' classes (decoder 1024 wide, 24 layers),

and times raysynth's own generator classes on them (per-clip seeding included) for 5 s clips.
Every figure is printed as soon as it is measured:

* AudioGen and MusicGen: the fast decoding path (static cache, SDPA, one guided forward) against
  the reference loop, fp32 and half precision, over ``--batches``; the reference runs at batch 1
  and at the largest batch only (it is slow, and the ratio is what matters).
* AudioLDM 2: DPM-Solver++ 25 steps in half precision over ``--batches``, DDIM 200 at the best
  batch, and the paper's loop (batch 1, fp32, DDIM 50). Every timed call uses prompts never seen
  before, so the prompt-encoding cache never hides the CLAP, T5 and GPT-2 cost.

    uv run python bench/gpu_generation.py                                  # on a GPU: real sizes
    uv run python bench/gpu_generation.py --size tiny --only audiogen      # anywhere, toy size
    uv run python bench/gpu_generation.py --only audioldm2 --batches 1 16
"""

from __future__ import annotations

import argparse
import itertools
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
from raysynth.generators.base import torch_dtype

SOUNDS = ["dog bark", "rain on a tin roof", "church bell", "car engine starting", "crowd cheering", "wind"]
_calls = itertools.count()


def prompts_for(batch: int) -> list[str]:
    """``batch`` prompts never used before in this run (no prompt-encoding cache hit)."""
    call = next(_calls)
    return [f"{SOUNDS[i % len(SOUNDS)]} sound, take {call}-{i}" for i in range(batch)]


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(generator, batch: int, duration: float, warm: bool = True) -> float:
    """Clips/s of one call at ``batch`` (after a warm-up call of the same shape, other prompts,
    unless the same shape has just run)."""
    if warm:
        generator.generate(prompts_for(batch), list(range(batch)), duration)
        sync()
    start = time.perf_counter()
    generator.generate(prompts_for(batch), list(range(100, 100 + batch)), duration)
    sync()
    return batch / (time.perf_counter() - start)


def sweep_batches(generator, batches: list[int], duration: float, label: str) -> dict[int, float]:
    """Clips/s per batch size, printed as measured, stopping at the first that runs out of memory."""
    speeds = {}
    for batch in batches:
        try:
            speeds[batch] = timed(generator, batch, duration)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            print(f"  {label}: batch {batch} out of memory", flush=True)
            break
        print(f"  {label}: batch {batch} {speeds[batch]:.2f} clips/s", flush=True)
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


def bench_lm(name: str, make, args, half: str) -> None:
    """Fast vs reference decoding of a language-model backend, fp32 and half precision."""
    for dtype in ("fp32", half) if torch.cuda.is_available() else ("fp32",):  # CPU: autocast is off
        fast = make(dtype, True)
        speeds = sweep_batches(fast, args.batches, args.duration, f"{name} {dtype} fast")
        if not speeds:
            continue
        best = max(speeds, key=speeds.get)
        print(f"  {name} {dtype} fast: best batch {best}, {speeds[best]:.2f} clips/s "
              f"({speeds[best] / speeds[min(speeds)]:.1f}x batch {min(speeds)})", flush=True)  # fmt: skip
        if args.compile:  # a figure "with CUDA graphs" says whether inductor captured them
            from raysynth.generators import lm_compile

            print(f"  {name} {dtype} compile: CUDA-graph captures skipped so far: {lm_compile.cudagraph_skips} "
                  f"({'captured' if lm_compile.cudagraph_skips == 0 else 'NOT all captured: the figure is without them'})",
                  flush=True)  # fmt: skip
        reference = make(dtype, False)
        # The reference is slow: fp32 at batch 1 and the best batch, half precision at the best only.
        for batch in sorted({min(speeds), best}) if dtype == "fp32" else [best]:
            slow = timed(reference, batch, args.duration)
            print(f"  {name} {dtype} reference: batch {batch} {slow:.2f} clips/s; fast is "
                  f"{speeds[batch] / slow:.1f}x", flush=True)  # fmt: skip
        del fast, reference
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def audiogen(args, device: str, half: str) -> None:
    cfg = audiogen_medium_config() if args.size == "real" else audiogen_config()
    print(
        "AudioGen " + ("(medium scale, audiogen_lm.yaml settings)" if args.size == "real" else "(tiny)"),
        flush=True,
    )
    start = time.perf_counter()
    model = build_audiogen_from_config(cfg, device=device, name="bench")
    print(f"  LM: {sum(p.numel() for p in model.lm.parameters()) / 1e6:.0f} M parameters, "
          f"built in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    reference_generate = model.lm.generate

    def make(dtype: str, fast: bool) -> AudioGenGenerator:
        model.lm.generate = reference_generate  # each generator starts from audiocraft's loop
        set_autocast(model, dtype)
        return AudioGenGenerator(model, top_k=250, guidance=3.0, fast_decode=fast, compile=args.compile)

    bench_lm("audiogen", make, args, half)


def musicgen(args, device: str, half: str) -> None:
    from transformers import MusicgenConfig, MusicgenForConditionalGeneration

    from raysynth.generators.musicgen import MusicGenGenerator, build_tiny_musicgen

    model, tokenizer = build_tiny_musicgen()
    if args.size == "real":  # MusicGen-small's decoder (1024 wide, 24 layers, 16 heads, 2048 codes)
        config = model.config.to_dict()
        config["decoder"].update(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096,
                                 vocab_size=2048, pad_token_id=2048, bos_token_id=2048)  # fmt: skip
        config["audio_encoder"].update(codebook_size=2048)
        torch.manual_seed(0)
        model = MusicgenForConditionalGeneration(MusicgenConfig(**config))
    print(f"MusicGen ({args.size}): decoder {sum(p.numel() for p in model.decoder.parameters()) / 1e6:.0f} M "
          "parameters", flush=True)  # fmt: skip
    model = model.eval().to(device)

    def make(dtype: str, fast: bool) -> MusicGenGenerator:
        return MusicGenGenerator(
            model.to(torch_dtype(dtype)), tokenizer, "bench", 250, 3.0, fast, args.compile
        )

    bench_lm("musicgen", make, args, half)


def audioldm2(args, device: str, half: str) -> None:
    print("AudioLDM 2 (base size)" if args.size == "real" else "AudioLDM 2 (tiny)", flush=True)
    generator = AudioLDM2Generator(audioldm2_base(args.size, torch_dtype(half), device), "bench", steps=25)
    set_scheduler(generator.pipeline, "dpm")
    speeds = sweep_batches(generator, args.batches, args.duration, f"audioldm2 {half} DPM-Solver++ 25")
    best = max(speeds, key=speeds.get)
    set_scheduler(generator.pipeline, "ddim")
    generator.steps = 200
    batch = min(best, 32)  # 8x the steps: a smaller batch keeps the run short; the UNet is warm
    ddim = timed(generator, batch, args.duration, warm=batch not in speeds)
    print(f"  audioldm2 {half} DDIM 200: batch {batch} {ddim:.2f} clips/s; DPM-Solver++ 25 at that batch is "
          f"{speeds.get(batch, speeds[best]) / ddim:.1f}x faster", flush=True)  # fmt: skip
    del generator
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    paper = AudioLDM2Generator(audioldm2_base(args.size, torch.float32, device), "bench", steps=50)
    set_scheduler(paper.pipeline, "ddim")
    loop = timed(paper, 1, args.duration)
    print(f"  audioldm2 paper's loop (fp32, DDIM 50, batch 1): {loop:.3f} clips/s; {half} DPM-Solver++ 25 "
          f"at batch {best} is {speeds[best] / loop:.0f}x", flush=True)  # fmt: skip


BENCHES = {"audiogen": audiogen, "musicgen": musicgen, "audioldm2": audioldm2}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=["real", "tiny"], default="real")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--half", choices=["bf16", "fp16"], default="bf16")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), default=["audiogen", "audioldm2"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the decode step (CUDA graphs)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    card = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"device: {card}; torch {torch.__version__}; size: {args.size}; {args.duration:g} s clips; "
          f"batches {args.batches}", flush=True)  # fmt: skip
    for name in args.only:
        start = time.perf_counter()
        BENCHES[name](args, device, args.half)
        print(f"  ({name}: {time.perf_counter() - start:.0f} s in all)", flush=True)


if __name__ == "__main__":
    main()
