"""One trial: build the mixture, train the classifier, evaluate every epoch, select on validation.

The trial reports ``epoch, train_loss, valid_acc, test_acc, test_macro_f1`` every epoch, and
``test_acc@{snr}dB`` where noisy evaluation is on, plus the test metrics at the epoch with the
best validation accuracy so far (``selected_*``, with per-class precision and recall and the
confusion matrix).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from raysynth.config import NoiseConfig, TrainConfig
from raysynth.train.data import ClipSet, decode_rows, hold_back, load_real, load_synthetic
from raysynth.train.metrics import classification_metrics
from raysynth.train.models import build_classifier
from raysynth.train.noise import NoiseBank, mix_at_snr, noisy_copy

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]


class NaNLossError(RuntimeError):
    """Training diverged; the trial stops with this reason and the sweep goes on."""


@dataclass(frozen=True)
class TrialContext:
    """What every trial of an experiment shares (the axes come in the trial config)."""

    manifest: str
    shards: dict[str, str]  # "<generator>/<strategy>" -> shard folder
    model_ids: dict[str, str]  # generator -> the model id its shards hold
    sample_rate: int
    clip_seconds: float
    train: TrainConfig
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    noise_manifest: str | None = None  # real noise, split train/test by recording
    noise_shards: dict[str, str] | None = None  # generator -> synthetic noise shard folder
    embeddings: str | None = None  # cached embeddings for linear_probe (see raysynth.train.embeddings)

    def generator(self, config: dict[str, Any]) -> str:
        """The trial's generator: its ``generator`` axis value (the only one where the grid has none)."""
        name = config.get("generator") or next(iter(self.model_ids), None)
        if name not in self.model_ids:
            raise ValueError(
                f"trial generator {name!r} has no shards; the experiment has {sorted(self.model_ids)}"
            )
        return name

    def synthetic_shards(self, config: dict[str, Any]) -> tuple[str, str]:
        """The shard folder and model id for the trial's generator and strategy."""
        generator = self.generator(config)
        key = f"{generator}/{config['strategy']}"
        if key not in self.shards:
            raise ValueError(f"no synthetic shards for {key}; the experiment has {sorted(self.shards)}")
        return self.shards[key], self.model_ids[generator]


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
    if real_fraction == 0 and multiplier == 0:
        raise ValueError("real_fraction 0 and synth_multiplier 0 leave nothing to train on")
    num_samples = int(round(context.sample_rate * context.clip_seconds))
    real = load_real(Path(context.manifest), real_fraction, int(config["seed"]), config.get("fold"))
    decode = lambda table: decode_rows(table, num_samples, context.sample_rate)  # noqa: E731
    parts, valid = [decode(real.train)], decode(real.valid)
    num_synth = 0
    if multiplier > 0:
        counts = {label: math.ceil(multiplier * n) for label, n in real.train_counts.items()}
        folder, model_id = context.synthetic_shards(config)
        synth = load_synthetic(folder, model_id, counts)
        if real_fraction == 0:
            synth, synth_valid = hold_back(synth)
            valid = decode(synth_valid)
        num_synth = synth.num_rows
        parts.append(decode(synth))
    return Mixture(
        ClipSet.concat(*parts), valid, decode(real.test), real.class_names, real.train.num_rows, num_synth
    )


def training_noise(source: str, context: TrialContext, generator: str | None = None) -> NoiseBank | None:
    """The noise bank for ``noise_source``: none, the real training recordings, or synthetic clips."""
    if source == "none":
        return None
    if source == "real":
        if context.noise_manifest is None:
            raise ValueError(
                "noise_source 'real' needs a prepared noise manifest (noise.directory in the spec)"
            )
        return NoiseBank.from_manifest(Path(context.noise_manifest), "train", context.sample_rate)
    if source == "synthetic":
        generator = generator or next(iter(context.model_ids), "")
        if not context.noise_shards or generator not in context.noise_shards:
            raise ValueError(
                f"noise_source 'synthetic' needs generated noise shards of {generator or 'a generator'}"
            )
        return NoiseBank.from_shards(
            context.noise_shards[generator], context.model_ids[generator], context.sample_rate
        )
    raise ValueError(f"noise_source has to be none, real or synthetic, but is {source!r}")


def noisy_test_sets(clips: ClipSet, context: TrialContext) -> dict[float, np.ndarray]:
    """The test clips mixed with held-out real noise at each test SNR: the same for every trial."""
    if context.noise_manifest is None:
        return {}
    bank = NoiseBank.from_manifest(Path(context.noise_manifest), "test", context.sample_rate)
    return {
        snr: noisy_copy(clips.waves, bank, snr, noisy_seed(snr), clips.ids) for snr in context.noise.test_snrs
    }


def noisy_seed(snr: float) -> int:
    return int(round(snr * 10)) + 1_000_003


@torch.inference_mode()
def _predict(model: nn.Module, features: torch.Tensor, batch_size: int) -> np.ndarray:
    model.eval()
    logits = [model(features[i : i + batch_size]) for i in range(0, len(features), batch_size)]
    return torch.cat(logits).argmax(dim=1).numpy()


def _snr_key(snr: float) -> str:
    return f"test_acc@{snr:g}dB"


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
    seed = int(config["seed"])
    torch.manual_seed(seed)
    torch.set_num_threads(settings.num_threads)
    start = time.perf_counter()

    # 1. Data: the mixture, and the model's frontend features once per clip.
    mixture = build_mixture(config, context)
    num_classes = len(mixture.class_names)
    model = build_classifier(settings, num_classes, context.sample_rate)
    if settings.mode == "linear_probe":
        return _linear_probe(config, context, mixture, model, report)
    feats = {name: model.features(getattr(mixture, name).waves) for name in ("train", "valid", "test")}
    mean, std = (feats["train"].mean(), feats["train"].std() + 1e-5) if model.standardize else (0.0, 1.0)
    normalise = lambda f: (f - mean) / std  # noqa: E731
    feats = {name: normalise(f) for name, f in feats.items()}
    targets = torch.from_numpy(mixture.train.labels)

    # 2. Noise: a bank for training augmentation, and fixed noisy test sets (always real test noise).
    train_bank = training_noise(str(config.get("noise_source", "none")), context, config.get("generator"))
    noisy_tests = {
        snr: normalise(model.features(waves)) for snr, waves in noisy_test_sets(mixture.test, context).items()
    }

    # 3. Optimiser, and where a resumed trial left off.
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    steps_per_epoch = math.ceil(len(targets) / settings.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    best_valid, selected, first_epoch = -1.0, {}, 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        rng.bit_generator.state = resume["rng"]
        torch.set_rng_state(resume["torch_rng"])
        best_valid, selected, first_epoch = resume["best_valid"], resume["selected"], resume["epoch"] + 1
    loss_fn = nn.CrossEntropyLoss()
    low, high = context.noise.train_snr_db

    # 4. Epochs: train, evaluate on valid and test, keep the test metrics of the best valid epoch.
    metrics: dict[str, Any] = {}
    for epoch in range(first_epoch, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(targets), generator=generator)
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            batch = order[i : i + settings.batch_size]
            inputs = feats["train"][batch]
            if train_bank is not None:
                noisy_rows = torch.from_numpy(rng.random(len(batch)) < context.noise.train_probability)
                if bool(noisy_rows.any()):
                    waves = torch.from_numpy(mixture.train.waves[batch.numpy()[noisy_rows.numpy()]])
                    noise = torch.from_numpy(train_bank.draw(len(waves), waves.shape[1], rng))
                    snr = torch.from_numpy(rng.uniform(low, high, len(waves)).astype(np.float32))
                    inputs = inputs.clone()
                    inputs[noisy_rows] = normalise(model.features(mix_at_snr(waves, noise, snr).numpy()))
            loss = loss_fn(model(model.augment(inputs)), targets[batch])
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
        noisy = {
            _snr_key(snr): classification_metrics(mixture.test.labels, _predict(model, f, 256), num_classes)[
                "acc"
            ]
            for snr, f in noisy_tests.items()
        }
        if valid["acc"] > best_valid:
            best_valid = valid["acc"]
            selected = _selected(epoch, valid, test, noisy, mixture.class_names)
        metrics = {
            "epoch": epoch,
            "train_loss": total / len(targets),
            "valid_acc": valid["acc"],
            "test_acc": test["acc"],
            "test_macro_f1": test["macro_f1"],
            **noisy,
            "num_real": mixture.num_real,
            "num_synthetic": mixture.num_synthetic,
            "elapsed_s": time.perf_counter() - start,
            **selected,
        }
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),  # dropout and SpecAugment draw from it
            "best_valid": best_valid,
            "selected": selected,
        }
        report(metrics, state)
    return metrics


def _linear_probe(
    config: dict[str, Any], context: TrialContext, mixture: Mixture, model: nn.Module, report: Report
) -> dict:
    """Train only a linear head on frozen embeddings (cached by a Ray Data job, or computed here)."""
    from raysynth.train.embeddings import embed_clips, load_embeddings

    if config.get("noise_source", "none") != "none":
        raise ValueError("linear_probe trains on cached clean embeddings; noise_source has to be none")
    settings, seed = context.train, int(config["seed"])
    sets = {"train": mixture.train, "valid": mixture.valid, "test": mixture.test}
    if context.embeddings is not None:
        snr_ids = {snr: [f"{i}@{snr:g}dB" for i in mixture.test.ids] for snr in context.noise.test_snrs}
        wanted = {name: clips.ids for name, clips in sets.items()}
        if context.noise_manifest is not None:
            wanted |= {snr: ids for snr, ids in snr_ids.items()}
        embedded = load_embeddings(Path(context.embeddings), wanted)
    else:
        embedded = {name: embed_clips(model, clips.waves) for name, clips in sets.items()}
        embedded |= {snr: embed_clips(model, w) for snr, w in noisy_test_sets(mixture.test, context).items()}
    mean, std = embedded["train"].mean(dim=0), embedded["train"].std(dim=0) + 1e-5
    embedded = {key: (value - mean) / std for key, value in embedded.items()}
    head = nn.Linear(embedded["train"].shape[1], len(mixture.class_names))
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    targets = torch.from_numpy(mixture.train.labels)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    best_valid, selected, metrics = -1.0, {}, {}
    for epoch in range(1, settings.epochs + 1):
        head.train()
        order = torch.randperm(len(targets), generator=generator)
        total = 0.0
        for i in range(0, len(order), settings.batch_size):
            batch = order[i : i + settings.batch_size]
            loss = nn.functional.cross_entropy(head(embedded["train"][batch]), targets[batch])
            if not torch.isfinite(loss):
                raise NaNLossError(f"loss became {loss.item()} at epoch {epoch}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        results = {
            key: _evaluate(head, value, sets, key, mixture)
            for key, value in embedded.items()
            if key != "train"
        }
        valid, test = results.pop("valid"), results.pop("test")
        noisy = {_snr_key(snr): r["acc"] for snr, r in results.items()}
        if valid["acc"] > best_valid:
            best_valid = valid["acc"]
            selected = _selected(epoch, valid, test, noisy, mixture.class_names)
        metrics = {"epoch": epoch, "train_loss": total / len(targets), "valid_acc": valid["acc"],
                   "test_acc": test["acc"], "test_macro_f1": test["macro_f1"], **noisy,
                   "num_real": mixture.num_real, "num_synthetic": mixture.num_synthetic, **selected}  # fmt: skip
        report(metrics, None)
    return metrics


@torch.inference_mode()
def _evaluate(head: nn.Module, embeddings: torch.Tensor, sets: dict, key: Any, mixture: Mixture) -> dict:
    head.eval()
    labels = sets[key].labels if key in sets else mixture.test.labels
    return classification_metrics(labels, head(embeddings).argmax(dim=1).numpy(), len(mixture.class_names))


def _selected(epoch: int, valid: dict, test: dict, noisy: dict, class_names: list[str]) -> dict:
    return {
        "selected_epoch": epoch,
        "selected_valid_acc": valid["acc"],
        "selected_test_acc": test["acc"],
        "selected_test_macro_f1": test["macro_f1"],
        **{f"selected_{key}": value for key, value in noisy.items()},
        "selected_test_precision": dict(zip(class_names, test["precision"], strict=True)),
        "selected_test_recall": dict(zip(class_names, test["recall"], strict=True)),
        "selected_test_confusion": test["confusion"],
    }
