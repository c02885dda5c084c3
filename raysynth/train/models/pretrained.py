"""Pretrained audio encoders from transformers, each with its own feature frontend and a linear head.

| name | model | embedding |
|---|---|---|
| ``ast`` | ``ASTModel`` (e.g. MIT/ast-finetuned-audioset-10-10-0.4593) | pooled CLS + distillation token |
| ``ssast`` | SSAST-Base (patch 16, 128 mel x 1024 frames), official checkpoint mapped into ``ASTModel`` | mean of patch tokens |
| ``whisper`` | encoder of ``WhisperModel`` (e.g. openai/whisper-base) | mean over time |
| ``clap`` | audio tower of ``ClapModel`` (e.g. laion/clap-htsat-unfused) | pooled output |

Each loads with ``from_pretrained`` (or, for SSAST, from the user's checkpoint file), and each has
a tiny builder: the same classes at toy sizes with random weights, for tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn

DEFAULT_MODEL_IDS = {
    "ast": "MIT/ast-finetuned-audioset-10-10-0.4593",
    "whisper": "openai/whisper-base",
    "clap": "laion/clap-htsat-unfused",
}


class BackboneLoadError(RuntimeError):
    """A pretrained model or checkpoint that cannot be loaded, with what to do about it."""


class CheckpointKeyError(BackboneLoadError):
    """A checkpoint whose keys do not match the model: lists the missing and unexpected keys."""


def _load_error(model_id: str, error: Exception) -> BackboneLoadError:
    return BackboneLoadError(
        f"cannot load '{model_id}': {type(error).__name__}: {error}. On a machine with network access, "
        f"pre-download it with `huggingface-cli download {model_id}` (then set HF_HUB_OFFLINE=1), or "
        f"set train.model_id to a local directory holding the model."
    )


@dataclass
class Frontend:
    """Turns a batch of waveforms at ``input_rate`` into the tensor the encoder takes.

    Audio is resampled to the extractor's own rate (48 kHz for CLAP) by the project's one resampler.
    """

    extractor: object
    key: str
    input_rate: int = 16000

    def __call__(self, waves: np.ndarray) -> torch.Tensor:
        from raysynth.audio import resample

        rate = int(getattr(self.extractor, "sampling_rate", self.input_rate))
        clips = [resample(w, self.input_rate, rate) for w in waves]
        return self.extractor(clips, sampling_rate=rate, return_tensors="pt")[self.key].float()


class PretrainedClassifier(nn.Module):
    """Encoder + linear head. ``embed`` gives the pooled embedding, ``forward`` the logits.

    Args:
        name: backbone name.
        encoder: the transformers module.
        frontend: its feature extractor.
        embed_dim: embedding size.
        num_classes: head outputs.
        pool: how the encoder output becomes one vector per clip.
    """

    standardize = False  # the frontends normalise as their checkpoints expect

    def __init__(
        self, name: str, encoder: nn.Module, frontend: Frontend, embed_dim: int, num_classes: int, pool
    ):
        super().__init__()
        self.name = name
        self.encoder = encoder
        self.frontend = frontend
        self.pool = pool
        self.embed_dim = embed_dim
        self.head = nn.Linear(embed_dim, num_classes)

    def features(self, waves: np.ndarray, batch_size: int = 64) -> torch.Tensor:
        return torch.cat([self.frontend(waves[i : i + batch_size]) for i in range(0, len(waves), batch_size)])

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.pool(self.encoder, inputs)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(inputs))

    def augment(self, inputs: torch.Tensor) -> torch.Tensor:
        """SpecAugment on the frontend's spectrogram (frequency and time masks)."""
        freq_dim, time_dim = FREQ_TIME_DIMS[self.name]
        x = inputs.movedim((freq_dim, time_dim), (-2, -1))
        x = torchaudio.transforms.FrequencyMasking(max(1, x.shape[-2] // 8))(x)
        x = torchaudio.transforms.TimeMasking(max(1, x.shape[-1] // 10))(x)
        return x.movedim((-2, -1), (freq_dim, time_dim))


# (frequency dim, time dim) of each frontend's output
FREQ_TIME_DIMS = {"ast": (-1, -2), "ssast": (-1, -2), "whisper": (-2, -1), "clap": (-1, -2)}


def _ast_pool(encoder: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return encoder(input_values=inputs).pooler_output


def _ssast_pool(encoder: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return encoder(input_values=inputs).last_hidden_state[:, 2:].mean(dim=1)


def _whisper_pool(encoder: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return encoder(input_features=inputs).last_hidden_state.mean(dim=1)


def _clap_pool(encoder: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    is_longer = torch.zeros(len(inputs), 1, dtype=torch.bool)
    return encoder(input_features=inputs, is_longer=is_longer).pooler_output


# --- AST ---------------------------------------------------------------------------------------


def build_ast(num_classes: int, model_id: str | None = None, tiny: bool = False) -> PretrainedClassifier:
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    if tiny:
        config = ASTConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            num_mel_bins=32, max_length=100, frequency_stride=16, time_stride=16,
        )  # fmt: skip
        encoder, extractor = ASTModel(config), ASTFeatureExtractor(num_mel_bins=32, max_length=100)
    else:
        model_id = model_id or DEFAULT_MODEL_IDS["ast"]
        try:
            encoder = ASTModel.from_pretrained(model_id)
            extractor = ASTFeatureExtractor.from_pretrained(model_id)
        except (OSError, ValueError) as error:
            raise _load_error(model_id, error) from error
    frontend = Frontend(extractor, "input_values")
    return PretrainedClassifier("ast", encoder, frontend, encoder.config.hidden_size, num_classes, _ast_pool)


# --- SSAST -------------------------------------------------------------------------------------

SSAST_BASE = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    patch_size=16, frequency_stride=16, time_stride=16, num_mel_bins=128, max_length=1024, layer_norm_eps=1e-6,
)  # fmt: skip
_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
# ASTModel's block names: transformers 5 (``layers.N.attention.q_proj``) and 4 (``encoder.layer.N...``).
_SCHEMES = {
    "v5": {
        "layer": "layers.{i}",
        "qkv": ("attention.q_proj", "attention.k_proj", "attention.v_proj"),
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.o_proj",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
    },
    "v4": {
        "layer": "encoder.layer.{i}",
        "qkv": ("attention.attention.query", "attention.attention.key", "attention.attention.value"),
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
    },
}
_TOP_MAP = {
    "cls_token": "embeddings.cls_token",
    "dist_token": "embeddings.distillation_token",
    "pos_embed": "embeddings.position_embeddings",
    "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
    "norm.weight": "layernorm.weight",
    "norm.bias": "layernorm.bias",
}


def ast_key_scheme(model_keys: set[str] | list[str]) -> str:
    """Which of transformers' ASTModel naming schemes ``model_keys`` use."""
    return "v5" if any(k.startswith("layers.") for k in model_keys) else "v4"


def map_ssast_state_dict(state: dict[str, torch.Tensor], scheme: str = "v5") -> dict[str, torch.Tensor]:
    """Map an official SSAST checkpoint (timm ViT keys under ``module.v.``) to ``ASTModel`` keys.

    The fused ``attn.qkv`` projection is split into query, key and value. Pretraining heads
    (``cpredlayer``, ``gpredlayer``, ``mask_embed``, ...) are dropped.

    Args:
        state: the checkpoint's state dict.
        scheme: ``"v5"`` or ``"v4"``, the ASTModel naming of the installed transformers
            (see :func:`ast_key_scheme`).
    """
    names = _SCHEMES[scheme]
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if not key.startswith("v."):
            continue  # SSAST's pretraining heads
        key = key[2:]
        if key in _TOP_MAP:
            mapped[_TOP_MAP[key]] = value
            continue
        match = _BLOCK.match(key)
        if match is None:
            mapped[key] = value  # left as is: reported as unexpected
            continue
        layer, rest = names["layer"].format(i=match[1]), match[2]
        prefix, kind = rest.rsplit(".", 1)
        if prefix == "attn.qkv":
            for name, part in zip(names["qkv"], value.chunk(3, dim=0), strict=True):
                mapped[f"{layer}.{name}.{kind}"] = part
        else:
            mapped[f"{layer}.{names.get(prefix, prefix)}.{kind}"] = value
    return mapped


def load_mapped_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` strictly, failing with the missing and unexpected keys listed."""
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointKeyError(
            f"{source} does not match the model: {len(missing)} missing key(s) {missing[:8]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:8]}"
        )
    model.load_state_dict(state, strict=True)


def build_ssast(
    num_classes: int, checkpoint: str | None = None, tiny: bool = False, state: dict | None = None
) -> PretrainedClassifier:
    """SSAST in the AST architecture, weights from the official checkpoint file (or ``state``)."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    if tiny:
        config = ASTConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            num_mel_bins=32, max_length=64, patch_size=16, frequency_stride=16, time_stride=16, layer_norm_eps=1e-6,
        )  # fmt: skip
        extractor = ASTFeatureExtractor(num_mel_bins=32, max_length=64)
    else:
        config, extractor = ASTConfig(**SSAST_BASE), ASTFeatureExtractor(num_mel_bins=128, max_length=1024)
    encoder = ASTModel(config, add_pooling_layer=False) if _accepts_pooling_flag() else ASTModel(config)
    source = "the given state dict"
    if state is None and checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise BackboneLoadError(
                f"SSAST checkpoint {path} does not exist: download SSAST-Base-Patch-400.pth from the "
                f"official release (github.com/YuanGongND/ssast) and set train.checkpoint_path to it"
            )
        state, source = torch.load(path, map_location="cpu", weights_only=True), str(path)
    if state is not None:
        scheme = ast_key_scheme(set(encoder.state_dict()))
        load_mapped_state(encoder, map_ssast_state_dict(state, scheme), source)
    elif not tiny:
        raise BackboneLoadError("ssast needs train.checkpoint_path: the official SSAST checkpoint file")
    frontend = Frontend(extractor, "input_values")
    return PretrainedClassifier("ssast", encoder, frontend, config.hidden_size, num_classes, _ssast_pool)


def _accepts_pooling_flag() -> bool:
    import inspect

    from transformers import ASTModel

    return "add_pooling_layer" in inspect.signature(ASTModel.__init__).parameters


# --- Whisper -----------------------------------------------------------------------------------


def build_whisper(num_classes: int, model_id: str | None = None, tiny: bool = False) -> PretrainedClassifier:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    if tiny:
        config = WhisperConfig(
            vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
            num_mel_bins=16, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32,
            decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=32, max_source_positions=50,
            max_target_positions=8,
        )  # fmt: skip
        encoder = WhisperModel(config).get_encoder()
        extractor = WhisperFeatureExtractor(feature_size=16, chunk_length=1)
    else:
        model_id = model_id or DEFAULT_MODEL_IDS["whisper"]
        try:
            encoder = WhisperModel.from_pretrained(model_id).get_encoder()
            extractor = WhisperFeatureExtractor.from_pretrained(model_id)
        except (OSError, ValueError) as error:
            raise _load_error(model_id, error) from error
    frontend = Frontend(extractor, "input_features")
    return PretrainedClassifier(
        "whisper", encoder, frontend, encoder.config.d_model, num_classes, _whisper_pool
    )


# --- CLAP --------------------------------------------------------------------------------------


def build_clap(num_classes: int, model_id: str | None = None, tiny: bool = False) -> PretrainedClassifier:
    from transformers import ClapAudioConfig, ClapAudioModel, ClapFeatureExtractor, ClapModel

    if tiny:
        config = ClapAudioConfig(
            spec_size=64, window_size=4, num_mel_bins=16, hidden_size=16, patch_embeds_hidden_size=8,
            depths=[1, 1], num_attention_heads=[1, 2], patch_size=4, patch_stride=(4, 4), enable_fusion=False,
        )  # fmt: skip
        encoder = ClapAudioModel(config)
        extractor = ClapFeatureExtractor(
            feature_size=16,
            sampling_rate=16000,
            hop_length=160,
            max_length_s=1,
            fft_window_size=400,
            truncation="rand_trunc",
        )
    else:
        model_id = model_id or DEFAULT_MODEL_IDS["clap"]
        try:
            encoder = ClapModel.from_pretrained(model_id).audio_model
            extractor = ClapFeatureExtractor.from_pretrained(model_id)
        except (OSError, ValueError) as error:
            raise _load_error(model_id, error) from error
    frontend = Frontend(extractor, "input_features")
    return PretrainedClassifier(
        "clap", encoder, frontend, encoder.config.hidden_size, num_classes, _clap_pool
    )
