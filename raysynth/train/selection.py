"""Evaluation every epoch, and selection of the epoch on validation (never on test).

Both training modes (fine-tune and linear probe) predict the validation set, the test set and the
noisy test sets each epoch and hand the predictions to :class:`Selection`, which keeps the test
metrics of the epoch with the best validation accuracy so far (``selected_*``); among epochs of
equal accuracy, the one with the lowest validation loss. (Synthetic validation sets of zero-shot
trials often reach 100% early; the loss still tells the epochs apart.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from raysynth.train.metrics import classification_metrics
from raysynth.train.mixture import Mixture

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]


class NaNLossError(RuntimeError):
    """Training diverged; the trial stops with this reason and the sweep goes on."""


@torch.inference_mode()
def predict(model: nn.Module, features: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The logits of every row of ``features`` (the model in eval mode)."""
    model.eval()
    logits = [model(features[i : i + batch_size]) for i in range(0, len(features), batch_size)]
    return torch.cat(logits).float().numpy()


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of ``logits`` against ``labels``."""
    return float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))


def snr_key(snr: float) -> str:
    return f"test_acc@{snr:g}dB"


@dataclass
class Selection:
    """The selected epoch so far: the best validation accuracy, then the lowest validation loss.

    Attributes:
        best_valid: its validation accuracy (-1 before the first epoch).
        selected: its ``selected_*`` metrics.
        epochs: the epochs planned, reported with every epoch as ``epochs_planned``.
        best_valid_loss: its validation loss.
    """

    best_valid: float = -1.0
    selected: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0  # the epochs the trial plans: a result of its last epoch marks it completed
    best_valid_loss: float = float("inf")

    def step(self, epoch: int, train_loss: float, predictions: dict[Any, np.ndarray], mixture: Mixture,
             elapsed_s: float) -> dict[str, Any]:  # fmt: skip
        """Score one epoch's logits (keys ``valid``, ``test`` and each test SNR) and return its metrics."""
        num_classes = len(mixture.class_names)
        labels = {key: value.argmax(axis=1) for key, value in predictions.items()}
        valid = classification_metrics(mixture.valid.labels, labels["valid"], num_classes)
        valid_loss = cross_entropy(predictions["valid"], mixture.valid.labels)
        test = classification_metrics(mixture.test.labels, labels["test"], num_classes)
        noisy = {
            snr_key(snr): classification_metrics(mixture.test.labels, p, num_classes)["acc"]
            for snr, p in labels.items()
            if not isinstance(snr, str)
        }
        if (valid["acc"], -valid_loss) > (self.best_valid, -self.best_valid_loss):
            self.best_valid, self.best_valid_loss = valid["acc"], valid_loss
            self.selected = {
                "selected_epoch": epoch,
                "selected_valid_acc": valid["acc"],
                "selected_valid_loss": valid_loss,
                "selected_test_acc": test["acc"],
                "selected_test_macro_f1": test["macro_f1"],
                **{f"selected_{key}": value for key, value in noisy.items()},
                "selected_test_precision": dict(zip(mixture.class_names, test["precision"], strict=True)),
                "selected_test_recall": dict(zip(mixture.class_names, test["recall"], strict=True)),
                "selected_test_confusion": test["confusion"],
                # what a round-2 trial's generation follows (raysynth.sweep.rounds): validation, never test
                "selected_valid_confusion": {
                    "classes": list(mixture.class_names),
                    "counts": valid["confusion"],
                },
            }
        return {
            "epoch": epoch,
            "epochs_planned": self.epochs,
            "train_loss": train_loss,
            "valid_acc": valid["acc"],
            "valid_loss": valid_loss,
            "test_acc": test["acc"],
            "test_macro_f1": test["macro_f1"],
            **noisy,
            "num_real": mixture.num_real,
            "num_synthetic": mixture.num_synthetic,
            "excluded_test_noise_clips": mixture.excluded,
            "synthetic_recipe": mixture.recipe,
            "synthetic_silence": mixture.silence,  # what a speech cell's silence clips are made of
            "draw_seed": mixture.draw,
            **({"round2_counts": mixture.round2} if mixture.round2 is not None else {}),
            "elapsed_s": elapsed_s,
            **(mixture.cost or {}),
            **quality_counts(mixture),
            **self.selected,
        }


def quality_counts(mixture: Mixture) -> dict[str, Any]:
    """A quality filter's kept and rejected clips per class, and the score table it read."""
    if mixture.quality_kept is None:
        return {}
    return {"quality_kept": mixture.quality_kept, "quality_rejected": mixture.quality_rejected,
            "quality_scores": mixture.quality_scores}  # fmt: skip


def trial_passes(settings, batches: int) -> int:
    """Passes over the training set per epoch: 1, or as many as ``train.min_steps`` needs, so that
    ``train.epochs`` epochs of ``batches`` steps each reach the step budget. Every trial reports and
    is selected at the same ``train.epochs`` points whatever its size (a small real-only cell
    evaluated after each of 630 one-step epochs once took 33 minutes, and had 63x the chances to
    be selected on a lucky validation score)."""
    if settings.min_steps is None:
        return 1
    return max(1, math.ceil(settings.min_steps / (settings.epochs * batches)))
