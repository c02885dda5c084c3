"""Dataset recipes (one module per corpus), the ``DATASETS`` registry, manifests and splits."""

from raysynth.datasets import (  # noqa: F401  (each module registers its recipes)
    crema_d,
    emodb,
    esc50,
    fsdd,
    gtzan,
    iemocap,
    noise,
    ravdess,
    speech_commands,
    speech_commands_folds,
    tess,
    toy,
    ucf101,
    us8k,
)
from raysynth.datasets.manifest import MANIFEST_NAME, PrepareReport, read_manifest
from raysynth.datasets.prepare import ManifestPlan, plan_manifest, prepare
from raysynth.datasets.registry import DATASETS, DatasetError, DatasetRecipe, get_recipe
from raysynth.datasets.sampling import stratified_subset

__all__ = [
    "DATASETS",
    "MANIFEST_NAME",
    "DatasetError",
    "DatasetRecipe",
    "PrepareReport",
    "get_recipe",
    "ManifestPlan",
    "plan_manifest",
    "prepare",
    "read_manifest",
    "stratified_subset",
]
