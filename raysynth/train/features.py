"""Log-mel features with torchaudio, computed once per clip set in batches."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio


class LogMel(torch.nn.Module):
    """Waveform ``[batch, samples]`` -> log-mel ``[batch, 1, n_mels, frames]`` in dB below the clip's peak.

    Referencing each clip to its own peak makes the features invariant to recording level.
    """

    def __init__(
        self, sample_rate: int = 16000, n_mels: int = 40, win_ms: float = 25.0, hop_ms: float = 10.0
    ):
        super().__init__()
        n_fft = int(round(sample_rate * win_ms / 1000))
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=int(round(sample_rate * hop_ms / 1000)),
            n_mels=n_mels,
            f_min=20.0,
            f_max=sample_rate / 2,
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waves) + 1e-10)
        return (db - db.amax(dim=(-2, -1), keepdim=True)).unsqueeze(1)


@torch.no_grad()
def compute_features(waves: np.ndarray, extractor: LogMel, batch_size: int = 256) -> torch.Tensor:
    """Log-mel features of every row of ``waves``."""
    chunks = [
        extractor(torch.from_numpy(waves[i : i + batch_size])) for i in range(0, len(waves), batch_size)
    ]
    return torch.cat(chunks)
