"""The ``DATASETS`` registry: one :class:`DatasetRecipe` per corpus, filled by the recipe modules.

Recipes register themselves with :func:`register_dataset`. Families of recipes made on the fly
(``noise:<dir>``) register a prefix with :func:`register_prefix`; :func:`get_recipe` resolves both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raysynth.datasets.manifest import PrepareReport


EMOTION_TEMPLATE = "a person speaking in a {label} voice"


class DatasetError(RuntimeError):
    """A corpus that is missing, incomplete or laid out differently from what the recipe reads."""


@dataclass(frozen=True)
class DatasetRecipe:
    """One corpus: how to fetch it, how to turn it into a manifest, how to prompt for its labels.

    Attributes:
        name: registry key, also the manifest folder under the work dir.
        download: ``download(target_dir) -> corpus_dir``.
        prepare: ``prepare(corpus_dir, output_dir, sample_rate, **options) -> PrepareReport``.
        prompt_template: label-guided prompt, formatted with ``label`` (the label text).
        layout: the official layout the recipe reads, shown when the root is wrong.
        url: where a user obtains the corpus.
        test_only: data made in code for tests and the smoke preset, not a real corpus.
        folds: the number of folds where ``split`` holds fold numbers ("1", "2", ...);
            0 where it holds train/valid/test.
        corpus_dir: a fixed corpus location (``noise:<dir>``); ``None``: ``<data_root>/<corpus>``.
        corpus: the corpus folder under the data root; ``None``: ``name``. Variants of one
            corpus (``esc10`` of ``esc50``) read their parent's folder.
        speech_template: for corpora of spoken words, the text a text-to-speech generator says
            for a label (``"{label}"``); ``None`` where the labels are not words to speak.
        unknown_words: the corpus's own words that are no class of the task (Speech Commands' 25
            other words): what a speech backend's ``_unknown_`` clips say, with common English words.
        version: bumped whenever the recipe's output changes, so older manifests are not reused.
    """

    name: str
    download: Callable[[Path], Path]
    prepare: Callable[..., PrepareReport]
    prompt_template: str
    layout: str
    url: str
    test_only: bool = False
    folds: int = 0
    corpus_dir: Path | None = None
    corpus: str | None = None
    speech_template: str | None = None
    unknown_words: tuple[str, ...] = ()
    version: int = 1

    @property
    def corpus_name(self) -> str:
        """The corpus folder under the data root."""
        return self.corpus or self.name


DATASETS: dict[str, DatasetRecipe] = {}
PREFIXES: dict[str, Callable[[str], DatasetRecipe]] = {}


def register_dataset(recipe: DatasetRecipe) -> DatasetRecipe:
    if recipe.name in DATASETS:
        raise ValueError(f"dataset '{recipe.name}' is registered twice")
    DATASETS[recipe.name] = recipe
    return recipe


def register_prefix(prefix: str, factory: Callable[[str], DatasetRecipe]) -> None:
    """Register recipes made on the fly: ``get_recipe(prefix + rest)`` returns ``factory(rest)``."""
    PREFIXES[prefix] = factory


class UnknownDatasetError(DatasetError, KeyError):
    """A dataset name that is not registered; lists the registered names."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_recipe(name: str) -> DatasetRecipe:
    """The registered recipe for ``name`` (or a prefixed one, such as ``noise:<dir>``).

    Raises:
        UnknownDatasetError: listing the registered names.
    """
    for prefix, factory in PREFIXES.items():
        if name.startswith(prefix):
            return factory(name[len(prefix) :])
    if name not in DATASETS:
        raise UnknownDatasetError(
            f"unknown dataset '{name}'; registered datasets: {', '.join(sorted(DATASETS))}"
            + (f", or {', '.join(p + '<dir>' for p in PREFIXES)}" if PREFIXES else "")
        )
    return DATASETS[name]


def manual_download(name: str, url: str) -> Callable[[Path], Path]:
    """A ``download`` for corpora whose licence asks for a manual download or a registration."""

    def download(target_dir: str | Path) -> Path:
        raise DatasetError(
            f"{name} cannot be downloaded automatically (its licence asks for a manual download or "
            f"registration): get it from {url} and unpack it under {Path(target_dir) / name.lower()}"
        )

    return download
