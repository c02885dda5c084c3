"""Backbones for the classifiers."""

from raysynth.train.models.cnn import LogMelCNN

BACKBONES = {"cnn": LogMelCNN}

__all__ = ["BACKBONES", "LogMelCNN"]
