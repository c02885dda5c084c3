"""A log-mel CNN trained from scratch: the CPU-friendly default backbone."""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class LogMelCNN(nn.Module):
    """Four conv blocks, global mean+max pooling over time and frequency, and a linear head.

    Args:
        num_classes: output classes.
        channels: channels of the conv blocks.
        dropout: dropout before the head.
    """

    def __init__(self, num_classes: int, channels: tuple[int, ...] = (16, 32, 64, 128), dropout: float = 0.3):
        super().__init__()
        layers, c_in = [], 1
        for c_out in channels:
            layers.append(_block(c_in, c_out))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c_in, num_classes))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.features(logmel)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)
