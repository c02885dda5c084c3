"""One trial: build the mixture, train the classifier, evaluate every epoch, select on validation.

The trial reports ``epoch, train_loss, valid_acc, test_acc, test_macro_f1`` every epoch, and
``test_acc@{snr}dB`` where noisy evaluation is on, plus the test metrics at the epoch with the
best validation accuracy so far (``selected_*``, with per-class precision and recall and the
confusion matrix). ``train.mode: linear_probe`` trains a head on frozen embeddings instead
(:mod:`raysynth.train.probe`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from raysynth.config import ReverbConfig
from raysynth.quality.measure import measure_quality
from raysynth.train.augment import draw_speeds, frequency_warp, speed_perturb
from raysynth.train.context import TrialContext
from raysynth.train.mixture import Mixture, build_mixture
from raysynth.train.models import build_classifier
from raysynth.train.noise import mix_at_snr, noisy_test_sets, training_noise, training_snr
from raysynth.train.probe import run_linear_probe
from raysynth.train.rooms import simulate_rooms
from raysynth.train.selection import NaNLossError, Report, Selection, predict, trial_passes
from raysynth.train.views import (
    FROZEN_BACKBONES,
    FeatureCache,
    augmented_views,
    cached_features,
    feature_key,
    waves_digest,
)


def run_trial(
    config: dict[str, Any],
    context: TrialContext,
    report: Report,
    resume: dict[str, Any] | None = None,
) -> dict:
    """Train and evaluate one configuration, calling ``report(metrics, state)`` once per epoch.

    Args:
        config: the trial's axis values (``real_fraction``, ``synth_multiplier``, ``strategy``,
            ``seed``, ``fold``, ``noise_source``, ...).
        context: paths and training parameters shared by every trial.
        report: called with each epoch's metrics and the training state to checkpoint
            (``ray.tune.report`` with a checkpoint in a sweep). The state holds live tensors:
            serialise or copy it before returning.
        resume: a state passed to ``report`` earlier; training continues after its epoch.

    Returns:
        The last reported metrics.
    """
    settings = context.train
    if config.get("backbone"):  # a grid.backbone axis (checked against the train settings in the spec)
        settings = settings.model_copy(update={"backbone": config["backbone"]})
    if config.get("reverb") is not None:  # a grid.reverb axis: the probability, the rooms of train.reverb
        probability = float(config["reverb"])
        rooms_of = (settings.reverb or ReverbConfig()).model_copy(update={"probability": probability})
        settings = settings.model_copy(update={"reverb": rooms_of if probability > 0 else None})
    seed = int(config["seed"])
    torch.manual_seed(seed)
    torch.set_num_threads(settings.num_threads)
    start = time.perf_counter()

    # 1. Data: the mixture, and the model's frontend features once per clip.
    mixture = build_mixture(config, context)
    measures = measure_quality(config, context, mixture)  # FAD and diversity, where quality.measure
    if measures:
        report = _reporting_also(report, measures)
    model = build_classifier(settings, len(mixture.class_names), context.sample_rate)
    if settings.mode == "linear_probe":
        return run_linear_probe(config, context, mixture, model, report)
    # A frozen backbone's features are cached under <work_dir>/features (train.views: its augmented views too).
    cache = FeatureCache(context.features if settings.backbone in FROZEN_BACKBONES else None)
    cache_key = feature_key(settings.backbone, settings.model_id, context.manifest, context.sample_rate)
    feats = {
        name: cached_features(model, part.waves, feature_key(cache_key, waves_digest(part.waves)), cache)
        for name, part in (("train", mixture.train), ("valid", mixture.valid), ("test", mixture.test))
    }
    mean, std = (feats["train"].mean(), feats["train"].std() + 1e-5) if model.standardize else (0.0, 1.0)
    normalise = lambda f: (f - mean) / std  # noqa: E731
    feats = {name: normalise(f) for name, f in feats.items()}
    targets = torch.from_numpy(mixture.train.labels)

    # 2. Noise: a bank for training augmentation, and fixed noisy test sets (always real test noise).
    train_bank = training_noise(config, context)
    noisy = noisy_test_sets(mixture.test.waves, mixture.test.ids, context)
    feats |= {
        snr: normalise(cached_features(model, waves, feature_key(cache_key, waves_digest(waves)), cache))
        for snr, waves in noisy.items()
    }

    # 3. Optimiser, and where a resumed trial left off.
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    batches = math.ceil(len(targets) / settings.batch_size)
    passes = trial_passes(settings, batches)  # more than one where train.min_steps asks for it
    steps_per_epoch, epochs = batches * passes, settings.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    selection, first_epoch = Selection(epochs=epochs), 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        rng.bit_generator.state = resume["rng"]
        torch.set_rng_state(resume["torch_rng"])
        selection = Selection(resume["best_valid"], resume["selected"], epochs, resume["best_valid_loss"])
        first_epoch = resume["epoch"] + 1
    loss_fn = nn.CrossEntropyLoss()
    low, high = training_snr(config, context)
    rooms = None
    if settings.reverb is not None:  # the trial's rooms, drawn from its seed
        reverb = settings.reverb
        rooms = simulate_rooms(
            reverb.rooms, context.sample_rate, seed, reverb.rt60, reverb.size_min, reverb.size_max
        )

    def augment(batch_waves: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Speed, then rooms (before noise: the noise is not in the room), then noise; and the rows changed."""
        changed = np.zeros(len(batch_waves), dtype=bool)
        if settings.speed_perturb is not None:
            speeds = draw_speeds(len(batch_waves), *settings.speed_perturb, rng)
            batch_waves, changed = speed_perturb(batch_waves, context.sample_rate, speeds), ~changed
        if rooms is not None:
            wet = rng.random(len(batch_waves)) < settings.reverb.probability
            if wet.any():
                batch_waves = batch_waves.copy()
                batch_waves[wet] = rooms.apply(batch_waves[wet], rng)
                changed |= wet
        if train_bank is not None:
            noisy = rng.random(len(batch_waves)) < context.noise.train_probability
            if noisy.any():
                waves = torch.from_numpy(batch_waves[noisy])
                noise = torch.from_numpy(train_bank.draw(len(waves), waves.shape[1], rng))
                snr = torch.from_numpy(rng.uniform(low, high, len(waves)).astype(np.float32))
                batch_waves = batch_waves.copy()
                batch_waves[noisy] = mix_at_snr(waves, noise, snr).numpy()
                changed |= noisy
        return batch_waves, changed

    views = None
    if (
        settings.views and settings.backbone in FROZEN_BACKBONES
    ):  # a frozen backbone: its augmented training views, embedded once (cached)
        views_key = feature_key(
            cache_key, "views", waves_digest(mixture.train.waves), config.get("noise_source"), settings.speed_perturb,
            settings.reverb.model_dump(mode="json") if settings.reverb else None, seed if settings.reverb else None,
            context.noise.model_dump(mode="json"), context.noise_manifest, (low, high) if train_bank is not None else None,
        )  # fmt: skip
        views = normalise(
            augmented_views(model, mixture.train.waves, settings.views, augment, views_key, cache)
        )

    # 4. Epochs: train, evaluate on valid and test, keep the test metrics of the best valid epoch.
    metrics: dict[str, Any] = {}
    for epoch in range(first_epoch, epochs + 1):
        model.train()
        total = 0.0
        orders = [torch.randperm(len(targets), generator=generator) for _ in range(passes)]
        batches_of_epoch = [order[i : i + settings.batch_size] for order in orders
                            for i in range(0, len(order), settings.batch_size)]  # fmt: skip
        for step, batch in enumerate(batches_of_epoch):
            if views is not None:  # cached augmented views: one of each row's, at random
                inputs = views[torch.from_numpy(rng.integers(len(views), size=len(batch))), batch]
            else:
                inputs = feats["train"][batch]
                batch_waves, changed = augment(mixture.train.waves[batch.numpy()], rng)
                if changed.any():
                    inputs = inputs.clone()
                    inputs[torch.from_numpy(changed)] = normalise(model.features(batch_waves[changed]))
            if settings.freq_warp is not None:
                inputs = frequency_warp(inputs, rng.uniform(*settings.freq_warp, len(batch)))
            loss = loss_fn(model(model.augment(inputs)), targets[batch])
            if not torch.isfinite(loss):
                raise NaNLossError(f"loss became {loss.item()} at epoch {epoch}, step {step}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        predictions = {key: predict(model, f) for key, f in feats.items() if key != "train"}
        metrics = selection.step(
            epoch, total / (passes * len(targets)), predictions, mixture, time.perf_counter() - start
        )
        metrics["steps"] = epoch * steps_per_epoch  # optimiser steps so far: budgets compare on these
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),  # dropout and SpecAugment draw from it
            "best_valid": selection.best_valid,
            "best_valid_loss": selection.best_valid_loss,
            "selected": selection.selected,
        }
        report(metrics, state)
    return metrics


def _reporting_also(report: Report, extra: dict[str, Any]) -> Report:
    """``report`` with ``extra`` added to every epoch's metrics."""
    return lambda metrics, state: report({**metrics, **extra}, state)


__all__ = ["Mixture", "NaNLossError", "run_trial"]
