"""Dataset recipes (one module per corpus) and the ``DATASETS`` registry."""

from raysynth.datasets import (  # noqa: F401  (each module registers its recipes)
    emotion,
    esc50,
    fsdd,
    gtzan,
    speech_commands,
    toy,
    ucf101,
    us8k,
)
from raysynth.datasets.base import (
    DATASETS,
    MANIFEST_NAME,
    DatasetError,
    DatasetRecipe,
    PrepareReport,
    get_recipe,
    manifest_path,
    prepare_dataset,
    read_manifest,
)
from raysynth.datasets.sampling import stratified_subset

__all__ = [
    "DATASETS",
    "MANIFEST_NAME",
    "DatasetError",
    "DatasetRecipe",
    "PrepareReport",
    "get_recipe",
    "manifest_path",
    "prepare_dataset",
    "read_manifest",
    "stratified_subset",
]
