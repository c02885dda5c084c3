"""SSAST (Gong et al., AAAI 2022) in transformers' AST architecture, from the official checkpoint file.

The official pre-training checkpoints (``SSAST-Base-Patch-400.pth``) hold the ``ASTModel`` of
YuanGongND/ssast ``src/models/ast_models.py``: a timm DeiT under ``module.v.`` (with a fused
``attn.qkv``), plus pre-training heads. :func:`map_ssast_state_dict` maps the encoder into
``transformers.ASTModel`` and drops the rest, by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from raysynth.train.models.pretrained import (
    BackboneLoadError,
    CheckpointKeyError,
    Frontend,
    PretrainedClassifier,
)


def _ssast_pool(encoder: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return encoder(input_values=inputs).last_hidden_state[:, 2:].mean(dim=1)


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


# What the official checkpoints hold besides the encoder (YuanGongND/ssast, ast_models.py), dropped by name:
# the masked-patch pre-training heads and their mask embedding, the input-size records, and the
# classification heads of the timm DeiT the encoder was made from (never trained by SSAST).
DROPPED = {
    "cpredlayer": "masked patch classification head (pre-training only)",
    "gpredlayer": "masked patch reconstruction head (pre-training only)",
    "mask_embed": "the embedding of masked patches (pre-training only)",
    "p_input_fdim": "pre-training input size (recorded, not a weight)",
    "p_input_tdim": "pre-training input size (recorded, not a weight)",
    "v.head": "DeiT class head (not trained by SSAST)",
    "v.head_dist": "DeiT distillation head (not trained by SSAST)",
}


def dropped_reason(key: str) -> str | None:
    """Why a checkpoint key is deliberately left out of the encoder (``None``: it is mapped)."""
    key = key.removeprefix("module.")
    for prefix, reason in DROPPED.items():
        if key == prefix or key.startswith(prefix + "."):
            return reason
    return None


def ast_key_scheme(model_keys: set[str] | list[str]) -> str:
    """Which of transformers' ASTModel naming schemes ``model_keys`` use."""
    return "v5" if any(k.startswith("layers.") for k in model_keys) else "v4"


def map_ssast_state_dict(state: dict[str, torch.Tensor], scheme: str = "v5") -> dict[str, torch.Tensor]:
    """Map an official SSAST checkpoint (timm ViT keys under ``module.v.``) to ``ASTModel`` keys.

    The fused ``attn.qkv`` projection is split into query, key and value (timm stacks them in
    that order). The keys named in :data:`DROPPED` are left out; any other key that does not map
    is kept under its own name, so loading reports it as unexpected.

    Args:
        state: the checkpoint's state dict.
        scheme: ``"v5"`` or ``"v4"``, the ASTModel naming of the installed transformers
            (see :func:`ast_key_scheme`).
    """
    names = _SCHEMES[scheme]
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if dropped_reason(key) is not None:
            continue
        key = key.removeprefix("module.")
        if not key.startswith("v."):
            mapped[key] = value  # not an encoder key, nor one we know to drop: reported as unexpected
            continue
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
