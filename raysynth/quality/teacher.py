"""A teacher: the log-mel CNN trained on the real training split alone, never on validation or test.

Its probability of a clip's own label is the ``teacher`` quality score, and its pooled penultimate
layer is an embedding for FAD and diversity (``quality.embedding: teacher``). A fold-split corpus
gets one teacher per test fold, trained on that fold's training part only, so a score never
carries information about the speakers or recordings a trial is tested on. It trains for a fixed
number of epochs (``quality.teacher_epochs``): choosing its epoch would need a validation split.

>>> path = teacher_path(Path("work"), "fsdd", "m.parquet", 1, 8000, 1.0, 40, 10)  # doctest: +SKIP
>>> train_teacher(TeacherPlan(path, "m.parquet", 1, 8000, 1.0, 40, 10))  # doctest: +SKIP
>>> Teacher.load(path).probabilities(waves)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from raysynth import workspace
from raysynth.schemas import file_id
from raysynth.storage import join, load_checkpoint


@dataclass(frozen=True)
class TeacherPlan:
    """Where a teacher goes and what makes it (every field is in its path's hash)."""

    path: str
    manifest: str
    fold: int | None
    sample_rate: int
    clip_seconds: float
    n_mels: int
    epochs: int
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 0
    real_fraction: float = 1.0  # the trial's nested real subset (with ``seed``); 1: the whole split
    noise_manifest: str | None = None  # its test-noise recordings never reach the teacher


def teacher_path(work_dir: Path | str, dataset: str, manifest: str, fold: int | None, sample_rate: int,
                 clip_seconds: float, n_mels: int, epochs: int, batch_size: int = 64,
                 learning_rate: float = 2e-3, seed: int = 0, real_fraction: float = 1.0,
                 noise_manifest: str | None = None) -> Path | str:  # fmt: skip
    """``<work_dir>/quality/<dataset>/teacher-<hash>/fold-<fold>[-rf<f>-seed<s>].pt``; the hash covers
    the manifest (its path names the recipe that prepared it), every training setting and the test
    noise kept out; the name, the real subset it trained on."""
    key = [
        str(manifest),
        sample_rate,
        clip_seconds,
        n_mels,
        epochs,
        batch_size,
        learning_rate,
        seed,
        "cnn-v1",
    ]
    key += [str(noise_manifest)] if noise_manifest else []
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
    subset = f"-rf{real_fraction:g}-seed{seed}" if real_fraction < 1 else ""
    return join(work_dir, "quality", dataset, f"teacher-{digest}", f"fold-{fold}{subset}.pt")


def teacher_subset(cell: dict) -> tuple[float, int]:
    """(real_fraction, seed) of the real data a cell's teacher trains on: the cell's own nested subset
    where it trains on part of the real split; the whole split (1.0, seed 0) at real_fraction 1, and at
    0, where the cell has no real data of its own (its clips are then chosen with real data: flagged)."""
    fraction = float(cell["real_fraction"])
    return (fraction, int(cell["seed"])) if 0 < fraction < 1 else (1.0, 0)


def train_teacher(plan: TeacherPlan) -> dict:
    """Train the teacher of ``plan`` on the real training split of its fold and save it atomically.

    Returns:
        What it trained on: clips, classes, epochs, final training accuracy and seconds.
    """
    from raysynth.train.data import decode_rows, load_real
    from raysynth.train.models import CNNClassifier

    start = time.perf_counter()
    torch.manual_seed(plan.seed)
    real = load_real(plan.manifest, plan.real_fraction, plan.seed, plan.fold)
    if plan.noise_manifest:  # the test-noise recordings (Speech Commands' _silence_ crops) stay out
        from raysynth.train.data import noise_sources, without_sources

        real = replace(real, train=without_sources(real.train, noise_sources(plan.noise_manifest)["test"])[0])
    if real.train.num_rows == 0:
        raise ValueError(
            f"{plan.manifest} has no real training split (fold {plan.fold}) to train a teacher on"
        )
    num_samples = int(round(plan.sample_rate * plan.clip_seconds))
    clips = decode_rows(real.train, num_samples, plan.sample_rate, source=plan.manifest)
    model = CNNClassifier(len(real.class_names), plan.sample_rate, plan.n_mels)
    feats = model.features(clips.waves)
    mean, std = float(feats.mean()), float(feats.std()) + 1e-5
    feats = (feats - mean) / std
    targets = torch.from_numpy(clips.labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=1e-4)
    steps = math.ceil(len(targets) / plan.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=plan.learning_rate, total_steps=plan.epochs * steps
    )
    generator = torch.Generator().manual_seed(plan.seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(plan.epochs):
        model.train()
        order = torch.randperm(len(targets), generator=generator)
        for i in range(0, len(order), plan.batch_size):
            batch = order[i : i + plan.batch_size]
            loss = loss_fn(model(model.augment(feats[batch])), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    teacher = Teacher(model, mean, std, real.class_names, plan.sample_rate, num_samples)
    train_acc = float((teacher._logits(feats).argmax(1) == targets).float().mean())
    summary = {"clips": len(targets), "classes": len(real.class_names), "epochs": plan.epochs,
               "train_acc": train_acc, "seconds": time.perf_counter() - start}  # fmt: skip
    state = {"model": model.state_dict(), "mean": mean, "std": std, "class_names": real.class_names,
             "sample_rate": plan.sample_rate, "num_samples": num_samples, "n_mels": plan.n_mels,
             "plan": asdict(plan), "summary": summary, "manifest_id": file_id(workspace.fetch(plan.manifest))}  # fmt: skip
    with workspace.publish(plan.path) as tmp:  # seen whole or not at all, locally or on a store
        torch.save(state, tmp)
    return summary


class StaleTeacher(RuntimeError):
    """A teacher trained on other bytes of its manifest than those on disk now (a re-prepared corpus)."""


def check_teacher(plan: TeacherPlan) -> bool:
    """Whether ``plan``'s teacher exists; raises :class:`StaleTeacher` if it was trained on another
    version of the manifest (its path names the manifest's recipe, not its bytes)."""
    if not workspace.is_file(plan.path):
        return False
    trained_on = load_checkpoint(workspace.fetch(plan.path), "teacher").get("manifest_id")
    if trained_on != file_id(workspace.fetch(plan.manifest)):
        folder = workspace.parent(plan.path)
        raise StaleTeacher(
            f"teacher {plan.path} was trained on another version of {plan.manifest} (prepared again since); "
            f"delete {folder} and the score tables under "
            f"{join(workspace.parent(folder), 'scores')} so that both are made again"
        )
    return True


class Teacher:
    """A trained teacher: probabilities and embeddings of waveforms at its rate and length."""

    def __init__(self, model: nn.Module, mean: float, std: float, class_names: list[str], sample_rate: int,
                 num_samples: int) -> None:  # fmt: skip
        self.model, self.mean, self.std = model.eval(), mean, std
        self.class_names, self.sample_rate, self.num_samples = list(class_names), sample_rate, num_samples

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Teacher:
        from raysynth.train.models import CNNClassifier

        if not workspace.is_file(path):
            raise FileNotFoundError(f"no teacher at {path}; the sweep's quality stage trains it")
        state = load_checkpoint(workspace.fetch(path), "teacher")
        model = CNNClassifier(len(state["class_names"]), state["sample_rate"], state["n_mels"])
        model.load_state_dict(state["model"])
        return cls(model, state["mean"], state["std"], state["class_names"], state["sample_rate"],
                   state["num_samples"])  # fmt: skip

    def _features(self, waves: np.ndarray) -> torch.Tensor:
        return (self.model.features(np.ascontiguousarray(waves, dtype=np.float32)) - self.mean) / self.std

    @torch.inference_mode()
    def _logits(self, feats: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        self.model.eval()
        return torch.cat([self.model(feats[i : i + batch_size]) for i in range(0, len(feats), batch_size)])

    @torch.inference_mode()
    def probabilities(self, waves: np.ndarray) -> np.ndarray:
        """Softmax over the classes, one row per waveform."""
        return torch.softmax(self._logits(self._features(waves)), dim=1).numpy()

    @torch.inference_mode()
    def embed(self, waves: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The pooled penultimate layer (mean and max over time and frequency), one row per waveform."""
        self.model.eval()
        feats = self._features(waves)
        rows = [self.model.embed(feats[i : i + batch_size]) for i in range(0, len(feats), batch_size)]
        return torch.cat(rows).numpy()
