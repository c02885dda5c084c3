"""AudioGen (Kreuk et al., 2023) through audiocraft: text to 16 kHz general sound.

The real model loads with ``AudioGen.get_pretrained('facebook/audiogen-medium')``, from the
Hugging Face hub or a local directory holding ``compression_state_dict.bin`` and
``state_dict.bin``. :func:`build_tiny_audiogen` builds the same classes at toy size with random
weights, offline, for tests and ``--smoke-test``.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from raysynth.audio import fix_length
from raysynth.generators.base import hub_error, register_generator, torch_dtype

if TYPE_CHECKING:
    from audiocraft.models import AudioGen

    from raysynth.config import GenerationConfig

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "facebook/audiogen-medium"
TINY_MODEL_ID = "raysynth/tiny-audiogen"


def audiogen_config(dim: int = 16, num_heads: int = 4, num_layers: int = 2, card: int = 400, **lm) -> dict:
    """An audiocraft training config (``xp.cfg``) for an AudioGen: what ``AudioGen.get_pretrained``
    reads from a checkpoint to build its modules. The defaults are a toy size: audiocraft's debug
    codec (16 kHz, 25 Hz, 4 codebooks of 400) and a 2-layer, 16-wide language model.

    Args:
        dim, num_heads, num_layers, card: the language model (AudioGen-medium: 1536, 24, 48, 2048).
        lm: further ``transformer_lm`` settings (``memory_efficient``, ``norm_first``, ``bias_*``...).
    """
    return {
        "compression_model": "encodec",
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": 16000, "channels": 1,
                    "causal": False, "renormalize": False},
        "seanet": {"n_filters": 4, "n_residual_layers": 1, "dimension": 32, "ratios": [10, 8, 8],
                   "encoder": {}, "decoder": {}},
        "rvq": {"n_q": 4, "bins": 400},
        "lm_model": "transformer_lm",
        "transformer_lm": {"n_q": 4, "card": card, "dim": dim, "num_heads": num_heads, "num_layers": num_layers,
                           "custom": True, "cross_attention": True, "causal": True, **lm},
        "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3]}},
        "attribute_dropout": {},
        "classifier_free_guidance": {"training_dropout": 0.0, "inference_coef": 3.0},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1, "sum": [], "prepend": [],
                  "cross": ["description"], "input_interpolate": []},
        # The noop tokenizer: the whitespace one of audiocraft's 'debug' model needs a spaCy download.
        "conditioners": {"description": {"model": "lut", "lut": {"n_bins": 128, "dim": dim, "tokenizer": "noop"}}},
        "dataset": {"segment_duration": 10},
        "device": "cpu",
        "dtype": "float32",
    }  # fmt: skip


def audiogen_medium_config() -> dict:
    """The configuration of AudioGen-medium, for random-weight models of the released size.

    The language model follows audiocraft's ``config/model/lm/audiogen_lm.yaml`` with the medium
    ``model_scale`` (these files ship in audiocraft's source distribution, not in the installed
    package, so the values are recorded here): dim 1536, 24 heads, 48 layers, 4 codebooks of 2048
    in the delay pattern [0, 1, 2, 3], ``memory_efficient: true``, ``bias_proj/bias_ff/bias_attn:
    false``, ``norm_first: true``, ``attention_as_float32: false``. The codec is a 16 kHz EnCodec
    at 50 Hz of the released size (SEANet with 64 filters, ratios 8-5-4-2, 128 dimensions, 2 LSTM
    layers). Its codebooks start random (``kmeans_init: false``): k-means at build time costs
    about a minute on two cores and times the same.
    """
    cfg = audiogen_config(
        dim=1536, num_heads=24, num_layers=48, card=2048, memory_efficient=True, bias_proj=False, bias_ff=False,
        bias_attn=False, norm_first=True, attention_as_float32=False,
    )  # fmt: skip
    cfg["seanet"] = {"n_filters": 64, "n_residual_layers": 1, "dimension": 128, "ratios": [8, 5, 4, 2], "lstm": 2,
                     "encoder": {}, "decoder": {}}  # fmt: skip
    cfg["rvq"] = {"n_q": 4, "bins": 2048, "kmeans_init": False}
    return cfg


def build_audiogen_from_config(
    cfg: dict, seed: int = 0, device: str = "cpu", name: str = TINY_MODEL_ID
) -> AudioGen:
    """An AudioGen built by audiocraft's own builders from ``cfg``, random weights (seeded).

    The same builders make the model when ``AudioGen.get_pretrained`` loads a checkpoint, so a
    model built here, saved with :func:`export_audiogen`, loads back through the real path.
    """
    from audiocraft.models import AudioGen
    from audiocraft.models.builders import get_compression_model, get_lm_model
    from omegaconf import OmegaConf

    config = OmegaConf.create({**cfg, "device": device})
    torch.manual_seed(seed)
    compression = get_compression_model(config)
    if cfg["rvq"].get("kmeans_init", True):  # initialise the codebooks, as audiocraft's debug codec does
        compression.quantizer(torch.randn(8, int(cfg["seanet"]["dimension"]), 128), 1)
    lm = get_lm_model(config)
    return AudioGen(name, compression.eval(), lm.eval(), max_duration=cfg["dataset"]["segment_duration"])


def build_tiny_audiogen(seed: int = 0, device: str = "cpu") -> AudioGen:
    """AudioGen made of audiocraft's own modules at toy size, random weights, no download."""
    return build_audiogen_from_config(audiogen_config(), seed, device)


def export_audiogen(model: AudioGen, cfg: dict, folder: str | Path) -> Path:
    """Save ``model`` in audiocraft's release format (what ``audiocraft.utils.export`` writes):
    ``compression_state_dict.bin`` and ``state_dict.bin``, each ``{best_state, xp.cfg, version, exported}``."""
    import audiocraft
    from omegaconf import OmegaConf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    xp_cfg = OmegaConf.to_yaml(OmegaConf.create(cfg))
    for file, module in (
        ("compression_state_dict.bin", model.compression_model),
        ("state_dict.bin", model.lm),
    ):
        package = {"best_state": module.state_dict(), "xp.cfg": xp_cfg, "version": audiocraft.__version__,
                   "exported": True}  # fmt: skip
        torch.save(package, folder / file)
    return folder


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
            # Never fall back to a shared generator: a clip would then depend on its batch.
            raise RuntimeError(
                f"per-clip sampling expected {len(generators)} rows (one per clip), got {input.shape[0]}; "
                f"audiocraft's sampling has changed shape, so clips can no longer be seeded one by one"
            )
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
        fast_decode: decode with :func:`raysynth.generators.lm_decode.fast_generate` (the same
            tokens as audiocraft's loop; a model it does not support falls back, saying why).
        compile: on CUDA, capture the fast decode step with ``torch.compile`` (CUDA graphs).
    """

    name = "audiogen"

    def __init__(
        self,
        model: AudioGen,
        top_k: int = 250,
        guidance: float = 3.0,
        fast_decode: bool = True,
        compile: bool = False,
    ) -> None:
        self.model = model
        self.model_id = model.name
        self.sample_rate = int(model.sample_rate)
        self.top_k = top_k
        self.guidance = guidance
        self.decoding = "reference"
        if fast_decode:
            from raysynth.generators import lm_decode

            reason = lm_decode.unsupported(model.lm)
            if reason:
                log.warning("audiogen: fast decoding does not support %s; using audiocraft's loop", reason)
                self.decoding = f"reference ({reason})"
            else:
                compiler = None
                if compile and model.device.type == "cuda":  # CUDA graphs; on CPU there is nothing to gain
                    from raysynth.generators.lm_compile import compiled_step

                    compiler = compiled_step
                model.lm.generate = functools.partial(lm_decode.fast_generate, model.lm, compiler=compiler)
                self.decoding = "fast"

    @classmethod
    def from_config(cls, config: GenerationConfig) -> AudioGenGenerator:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if config.tiny:
            model = build_tiny_audiogen(seed=config.seed, device=device)
        else:
            model = load_audiogen(config.model_id or DEFAULT_MODEL_ID, device)
        set_autocast(model, config.dtype)
        return cls(model, config.top_k, config.guidance, bool(config.fast_decode), bool(config.compile))

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """Generate one clip per prompt; clip b depends only on its prompt and ``seeds[b]``, not on its batch."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        if not 0 < duration_s <= self.model.max_duration:
            raise ValueError(f"duration_s has to be in (0, {self.model.max_duration}], but is {duration_s}")
        self.model.set_generation_params(duration=duration_s, top_k=self.top_k, cfg_coef=self.guidance)
        # The fast loop masks each prompt's text padding itself; audiocraft's loop lets padding take
        # attention, so it gets only prompts of one text length per call (nothing padded).
        groups = [list(range(len(prompts)))] if self.decoding == "fast" else self.unpadded_groups(prompts)
        num_samples = int(round(duration_s * self.sample_rate))
        clips: list[np.ndarray | None] = [None] * len(prompts)
        for group in groups:
            group_seeds = [seeds[i] for i in group]
            torch.manual_seed(group_seeds[0])
            with torch.inference_mode(), per_clip_sampling(group_seeds, self.model.device):
                wav = self.model.generate([prompts[i] for i in group], progress=False)
            # The LM works in whole codec frames; pad or crop to the exact requested length.
            for i, clip in zip(group, wav, strict=True):
                clips[i] = fix_length(clip[0].float().cpu().numpy(), num_samples)
        return clips  # type: ignore[return-value]

    def unpadded_groups(self, prompts: list[str]) -> list[list[int]]:
        """The prompts' positions grouped by the length of their text conditions (the tokens each
        condition's mask keeps), so no call pads a prompt to a longer batch-mate."""
        lm = self.model.lm
        attributes, _ = self.model._prepare_tokens_and_attributes(prompts, None)
        with torch.inference_mode():
            tensors = lm.condition_provider(lm.condition_provider.tokenize(attributes))
        lengths = torch.stack([mask.sum(dim=1) for _, mask in tensors.values()], dim=1).tolist()
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(lengths):
            groups.setdefault(tuple(key), []).append(i)
        return list(groups.values())


register_generator(
    "audiogen",
    default_model_id=DEFAULT_MODEL_ID,
    tiny_model_id=TINY_MODEL_ID,
    max_duration_s=10.0,
    batch_size=32,
    settings={"dtype": "fp32", "guidance": 3.0, "top_k": 250},
    execution={"fast_decode": True, "compile": False},
    # Text padding never takes attention (a clip no longer depends on its batch-mates' lengths):
    # clips made before this fix sound otherwise, so they have another recipe.
    revision={"text_padding": "unattended"},
    licences={
        "engine": "AudioCraft (MIT code)",
        "voice": "facebook/audiogen-medium weights: CC-BY-NC-4.0 (its model card)",
    },
)(AudioGenGenerator.from_config)
