"""Linear probe: train only a linear head on frozen embeddings (cached by a Ray Data job, or computed here)."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from raysynth.train.context import TrialContext
from raysynth.train.mixture import Mixture
from raysynth.train.noise import noisy_test_sets
from raysynth.train.selection import NaNLossError, Report, Selection, predict, trial_passes


def _embeddings(context: TrialContext, mixture: Mixture, model: nn.Module) -> dict[Any, torch.Tensor]:
    """Embeddings of the train, valid and test clips, and of the noisy test sets (keyed by SNR)."""
    from raysynth.train.embeddings import embed_clips, load_embeddings

    sets = {"train": mixture.train, "valid": mixture.valid, "test": mixture.test}
    if context.embeddings is None:
        embedded = {name: embed_clips(model, clips.waves) for name, clips in sets.items()}
        noisy = noisy_test_sets(mixture.test.waves, mixture.test.ids, context)
        return embedded | {snr: embed_clips(model, waves) for snr, waves in noisy.items()}
    wanted: dict[Any, list[str]] = {name: clips.ids for name, clips in sets.items()}
    if context.noise_manifest is not None:
        wanted |= {snr: [f"{i}@{snr:g}dB" for i in mixture.test.ids] for snr in context.noise.test_snrs}
    return load_embeddings(context.embeddings, wanted)


def run_linear_probe(
    config: dict[str, Any], context: TrialContext, mixture: Mixture, model: nn.Module, report: Report
) -> dict:
    """Train a linear head on ``model``'s frozen embeddings; reports every epoch as :func:`run_trial` does."""
    if config.get("noise_source", "none") != "none":
        raise ValueError("linear_probe trains on cached clean embeddings; noise_source has to be none")
    settings, seed, start = context.train, int(config["seed"]), time.perf_counter()
    embedded = _embeddings(context, mixture, model)
    mean, std = embedded["train"].mean(dim=0), embedded["train"].std(dim=0) + 1e-5
    embedded = {key: (value - mean) / std for key, value in embedded.items()}
    head = nn.Linear(embedded["train"].shape[1], len(mixture.class_names))
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    targets = torch.from_numpy(mixture.train.labels)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    batches = math.ceil(len(targets) / settings.batch_size)
    passes = trial_passes(settings, batches)
    steps_per_epoch, epochs = batches * passes, settings.epochs
    selection, metrics = Selection(epochs=epochs), {}
    for epoch in range(1, epochs + 1):
        head.train()
        orders = [torch.randperm(len(targets), generator=generator) for _ in range(passes)]
        total = 0.0
        for batch in [
            o[i : i + settings.batch_size] for o in orders for i in range(0, len(o), settings.batch_size)
        ]:
            loss = nn.functional.cross_entropy(head(embedded["train"][batch]), targets[batch])
            if not torch.isfinite(loss):
                raise NaNLossError(f"loss became {loss.item()} at epoch {epoch}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        predictions = {key: predict(head, value) for key, value in embedded.items() if key != "train"}
        metrics = selection.step(
            epoch, total / (passes * len(targets)), predictions, mixture, time.perf_counter() - start
        )
        metrics["steps"] = epoch * steps_per_epoch
        report(metrics, None)
    return metrics
