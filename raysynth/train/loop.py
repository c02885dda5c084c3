"""One trial: build the mixture, train the classifier, evaluate every epoch, select on validation.

The trial reports ``epoch, train_loss, valid_acc, test_acc, test_macro_f1`` every epoch, plus
the test metrics at the epoch with the best validation accuracy so far (``selected_*``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio
from torch import nn

from raysynth.config import TrainConfig
from raysynth.train.data import ClipSet, decode_rows, hold_back, load_real, load_synthetic
from raysynth.train.features import LogMel, compute_features
from raysynth.train.metrics import classification_metrics
from raysynth.train.models import BACKBONES


class NaNLossError(RuntimeError):
    """Training diverged; the trial stops with this reason and the sweep goes on."""


@dataclass(frozen=True)
class TrialContext:
    """What every trial of an experiment shares (the axes come in the trial config)."""

    manifest: str
    shards: dict[str, str]  # strategy -> shard folder
    model_id: str
    sample_rate: int
    clip_seconds: float
    train: TrainConfig


@dataclass
class Mixture:
    train: ClipSet
    valid: ClipSet
    test: ClipSet
    class_names: list[str]
    num_real: int
    num_synthetic: int


def build_mixture(config: dict[str, Any], context: TrialContext) -> Mixture:
    """Real subset (``real_fraction``) plus ``synth_multiplier`` x real clips per class, synthetic.

    With ``real_fraction == 0`` (zero-shot) validation is held-back synthetic clips, never real data.
    """
    real_fraction, multiplier = float(config["real_fraction"]), float(config["synth_multiplier"])
    num_samples = int(round(context.sample_rate * context.clip_seconds))
    real = load_real(Path(context.manifest), real_fraction, int(config["seed"]), config.get("fold"))
    decode = lambda table: decode_rows(table, num_samples, context.sample_rate)  # noqa: E731
    parts, valid = [decode(real.train)], decode(real.valid)
    num_synth = 0
    if multiplier > 0:
        counts = {label: math.ceil(multiplier * n) for label, n in real.train_counts.items()}
        synth = load_synthetic(Path(context.shards[config["strategy"]]), context.model_id, counts)
        if real_fraction == 0:
            synth, synth_valid = hold_back(synth)
            valid = decode(synth_valid)
        num_synth = synth.num_rows
        parts.append(decode(synth))
    if real_fraction == 0 and multiplier == 0:
        raise ValueError("real_fraction 0 and synth_multiplier 0 leave nothing to train on")
    return Mixture(
        ClipSet.concat(*parts), valid, decode(real.test), real.class_names, real.train.num_rows, num_synth
    )


def _spec_augment(features: torch.Tensor) -> torch.Tensor:
    freq = torchaudio.transforms.FrequencyMasking(freq_mask_param=max(1, features.shape[2] // 8))
    time_mask = torchaudio.transforms.TimeMasking(time_mask_param=max(1, features.shape[3] // 10))
    return time_mask(freq(features))


@torch.inference_mode()
def _predict(model: nn.Module, features: torch.Tensor, batch_size: int) -> np.ndarray:
    model.eval()
    logits = [model(features[i : i + batch_size]) for i in range(0, len(features), batch_size)]
    return torch.cat(logits).argmax(dim=1).numpy()


def run_trial(
    config: dict[str, Any], context: TrialContext, report: Callable[[dict[str, Any]], None]
) -> dict:
    """Train and evaluate one configuration, calling ``report`` once per epoch.

    Args:
        config: the trial's axis values (``real_fraction``, ``synth_multiplier``, ``strategy``, ``seed``, ...).
        context: paths and training parameters shared by every trial.
        report: called with each epoch's metrics (``ray.tune.report`` in a sweep).

    Returns:
        The last reported metrics.
    """
    settings = context.train
    seed = int(config["seed"])
    torch.manual_seed(seed)
    torch.set_num_threads(settings.num_threads)
    start = time.perf_counter()

    # 1. Data: mixture, then log-mel features once, normalised with training statistics.
    mixture = build_mixture(config, context)
    extractor = LogMel(context.sample_rate, settings.n_mels)
    feats = {
        name: compute_features(getattr(mixture, name).waves, extractor) for name in ("train", "valid", "test")
    }
    mean, std = feats["train"].mean(), feats["train"].std() + 1e-5
    feats = {name: (f - mean) / std for name, f in feats.items()}
    targets = torch.from_numpy(mixture.train.labels)
    num_classes = len(mixture.class_names)

    # 2. Model and optimiser.
    model = BACKBONES[settings.backbone](num_classes)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    steps_per_epoch = math.ceil(len(targets) / settings.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    best_valid = -1.0
    selected: dict[str, Any] = {}

    # 3. Epochs: train, evaluate on valid and test, keep the test metrics of the best valid epoch.
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(targets), generator=generator)
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            batch = order[i : i + settings.batch_size]
            loss = loss_fn(model(_spec_augment(feats["train"][batch])), targets[batch])
            if not torch.isfinite(loss):
                raise NaNLossError(
                    f"loss became {loss.item()} at epoch {epoch}, step {i // settings.batch_size}"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        valid = classification_metrics(
            mixture.valid.labels, _predict(model, feats["valid"], 256), num_classes
        )
        test = classification_metrics(mixture.test.labels, _predict(model, feats["test"], 256), num_classes)
        if valid["acc"] > best_valid:
            best_valid = valid["acc"]
            selected = {
                "selected_epoch": epoch,
                "selected_valid_acc": valid["acc"],
                "selected_test_acc": test["acc"],
                "selected_test_macro_f1": test["macro_f1"],
                "selected_test_precision": dict(zip(mixture.class_names, test["precision"], strict=True)),
            }
        metrics = {
            "epoch": epoch,
            "train_loss": total / len(targets),
            "valid_acc": valid["acc"],
            "test_acc": test["acc"],
            "test_macro_f1": test["macro_f1"],
            "num_real": mixture.num_real,
            "num_synthetic": mixture.num_synthetic,
            "elapsed_s": time.perf_counter() - start,
            **selected,
        }
        report(metrics)
    return metrics
