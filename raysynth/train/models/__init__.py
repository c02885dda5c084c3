"""Backbones: a log-mel CNN from scratch, and pretrained encoders (AST, SSAST, Whisper, CLAP).

Every classifier offers the same surface to the training loop: ``features(waves)`` (its
frontend, computed once per clip), ``augment(features)`` (SpecAugment), ``embed(features)``
(the pooled embedding), ``forward(features)`` (logits), and ``standardize`` (whether the loop
standardises features with training statistics).
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio
from torch import nn

from raysynth.config import TrainConfig
from raysynth.train.features import LogMel, compute_features
from raysynth.train.models.cnn import LogMelCNN
from raysynth.train.models.pretrained import (
    BackboneLoadError,
    CheckpointKeyError,
    PretrainedClassifier,
    build_ast,
    build_clap,
    build_whisper,
)
from raysynth.train.models.ssast import build_ssast, map_ssast_state_dict


class CNNClassifier(nn.Module):
    """The log-mel CNN with its frontend."""

    standardize = True

    def __init__(self, num_classes: int, sample_rate: int = 16000, n_mels: int = 40):
        super().__init__()
        self.name = "cnn"
        self.extractor = LogMel(sample_rate, n_mels)
        self.cnn = LogMelCNN(num_classes)
        self.embed_dim = self.cnn.head[-1].in_features

    def features(self, waves: np.ndarray) -> torch.Tensor:
        return compute_features(waves, self.extractor)

    def augment(self, inputs: torch.Tensor) -> torch.Tensor:
        x = torchaudio.transforms.FrequencyMasking(max(1, inputs.shape[2] // 8))(inputs)
        return torchaudio.transforms.TimeMasking(max(1, inputs.shape[3] // 10))(x)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self.cnn.features(inputs)
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.cnn(inputs)


BACKBONES = ("cnn", "ast", "ssast", "whisper", "clap", "speech_embedding")


def build_classifier(config: TrainConfig, num_classes: int, sample_rate: int = 16000) -> nn.Module:
    """The classifier named by ``config.backbone``, real weights unless ``config.tiny``.

    Tiny backbones draw their random weights from a fixed seed, so that every process (a trial,
    an embedding actor) builds the same model; the caller's random state is left untouched.
    """
    if config.tiny and config.backbone != "cnn":
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return _build(config, num_classes, sample_rate)
    return _build(config, num_classes, sample_rate)


def _build(config: TrainConfig, num_classes: int, sample_rate: int) -> nn.Module:
    if config.backbone == "cnn":
        return CNNClassifier(num_classes, sample_rate, config.n_mels)
    if config.backbone == "speech_embedding":
        from raysynth.train.models.speech_embedding import SpeechEmbeddingClassifier

        return SpeechEmbeddingClassifier(num_classes, sample_rate, config.head, config.num_threads)
    if config.backbone == "ssast":
        return build_ssast(num_classes, config.checkpoint_path, config.tiny)
    builders = {"ast": build_ast, "whisper": build_whisper, "clap": build_clap}
    return builders[config.backbone](num_classes, config.model_id, config.tiny)


__all__ = [
    "BACKBONES",
    "BackboneLoadError",
    "CNNClassifier",
    "CheckpointKeyError",
    "LogMelCNN",
    "PretrainedClassifier",
    "build_classifier",
    "map_ssast_state_dict",
]
