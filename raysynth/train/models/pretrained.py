"""Pretrained audio encoders from transformers, each with its own feature frontend and a linear head.

| name | model | embedding |
|---|---|---|
| ``ast`` | ``ASTModel`` (e.g. MIT/ast-finetuned-audioset-10-10-0.4593) | pooled CLS + distillation token |
| ``ssast`` | SSAST-Base (patch 16, 128 mel x 1024 frames), official checkpoint mapped into ``ASTModel`` (:mod:`.ssast`) | mean of patch tokens |
| ``whisper`` | encoder of ``WhisperModel`` (e.g. openai/whisper-base) | mean over the frames of the clip |
| ``clap`` | audio tower of ``ClapModel`` (e.g. laion/clap-htsat-unfused) | pooled output |

Each loads with ``from_pretrained`` (or, for SSAST, from the user's checkpoint file), and each has
a tiny builder: the same classes at toy sizes with random weights, for tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        self.clip_seconds: float | None = None

    def features(self, waves: np.ndarray, batch_size: int = 64) -> torch.Tensor:
        # Clips are of one length per trial; pools that need it (Whisper's) read it from here.
        self.clip_seconds = waves.shape[-1] / self.frontend.input_rate
        return torch.cat([self.frontend(waves[i : i + batch_size]) for i in range(0, len(waves), batch_size)])

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.pool is _whisper_pool:
            return self.pool(self.encoder, inputs, self.clip_seconds)
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


WHISPER_FRAMES_PER_SECOND = 50  # encoder output: 100 mel frames per second, then a stride-2 convolution


def _whisper_pool(
    encoder: nn.Module, inputs: torch.Tensor, clip_seconds: float | None = None
) -> torch.Tensor:
    """Mean over the encoder frames that cover the clip (Whisper pads every input to its 30 s window)."""
    hidden = encoder(input_features=inputs).last_hidden_state
    if clip_seconds is None:
        return hidden.mean(dim=1)
    frames = min(hidden.shape[1], max(1, math.ceil(clip_seconds * WHISPER_FRAMES_PER_SECOND)))
    return hidden[:, :frames].mean(dim=1)


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
