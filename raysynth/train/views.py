"""Features of a frozen backbone, computed once and cached: clean clips, and seeded augmented views.

A frozen speech embedding costs about 10 ms a clip on one core, and training with noise and rooms
used to embed every augmented batch again: a trial of 300 steps embedded about 10,000 clips, and
every trial embedded the test set again. With a frozen backbone (``speech_embedding``):

- each clean set (training, validation, test, each noisy test set) is embedded once per sweep and
  kept under ``<work_dir>/features`` (a folder or an object store, through :mod:`raysynth.workspace`), keyed by the backbone and a hash of the samples themselves;
- ``train.views: V`` makes V augmented copies of the training clips (speed, rooms and noise, as a
  trial draws them on the fly), each drawn from a seed that hashes its key, embedded once and
  cached the same way (the key: the clean set's hash and every augmentation setting); a training
  step then takes, for each row, one of its V views at random.

A trial of cells that reuse clips (other backbones' heads, filters, reruns) reads the cache. The
files are NumPy arrays written whole (:func:`raysynth.workspace.publish`) and read with
``allow_pickle=False``: reading one can never run code. Keys are content hashes, so a stale file
is never served; two trials that compute the same key at once write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

import numpy as np
import torch

from raysynth import workspace
from raysynth.storage import join

FROZEN_BACKBONES = ("speech_embedding",)


def feature_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def waves_digest(waves: np.ndarray) -> str:
    """A hash of the samples themselves (and their shape): a key made of it names exactly these clips."""
    array = np.ascontiguousarray(waves, dtype=np.float32)
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


class FeatureCache:
    """``key -> array`` under ``root``, a folder or an object store prefix (``None``: no cache,
    compute every time)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = workspace.as_location(root) if root else None
        self.hits = self.misses = 0

    def get(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self.root is None:
            return compute()
        location = join(self.root, f"{key}.npy")
        if workspace.is_file(location):
            self.hits += 1
            return np.load(workspace.fetch(location), allow_pickle=False)
        self.misses += 1
        array = np.ascontiguousarray(compute())
        with workspace.publish(location) as temporary:
            with open(temporary, "wb") as out:
                np.save(out, array, allow_pickle=False)
        return array


def cached_features(model, waves: np.ndarray, key: str, cache: FeatureCache) -> torch.Tensor:
    """``model.features(waves)``, from the cache where ``key`` is there."""
    return torch.from_numpy(cache.get(key, lambda: model.features(waves).numpy()))


def augmented_views(
    model,
    waves: np.ndarray,
    views: int,
    augment: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]],
    key: str,
    cache: FeatureCache,
    chunk: int = 256,
) -> torch.Tensor:
    """``[views, n, ...]``: features of ``views`` augmented copies of ``waves``, view v drawn from a
    seed that hashes ``key`` and v (the same view for the same clips and settings in any trial)."""
    out = []
    for view in range(views):
        view_key = feature_key(key, "view", view)

        def compute(view_key=view_key) -> np.ndarray:
            rng = np.random.default_rng(int(view_key[:15], 16))
            parts = [
                model.features(augment(waves[i : i + chunk], rng)[0]).numpy()
                for i in range(0, len(waves), chunk)
            ]
            return np.concatenate(parts)

        out.append(torch.from_numpy(cache.get(view_key, compute)))
    return torch.stack(out)
