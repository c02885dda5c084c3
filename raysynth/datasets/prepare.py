"""Preparing a dataset: find the corpus, download it if asked, run its recipe, write the manifest.

A manifest is keyed by its full recipe: the dataset, the corpus folder, the sample rate, every
recipe option (defaults filled in), the recipe's version and the resampler. It lives in
``<work_dir>/<dataset>/<recipe hash>/manifest.parquet`` beside a ``recipe.json``, so two specs that
prepare one corpus differently (another rate, other held-out noise files) never share a manifest,
and two that prepare it alike always do.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysynth import workspace
from raysynth.audio import RESAMPLER
from raysynth.datasets.manifest import MANIFEST_NAME, PrepareReport
from raysynth.datasets.registry import DatasetError, DatasetRecipe, get_recipe
from raysynth.schemas import SCHEMA_VERSION
from raysynth.storage import Location, check_writable, is_remote, join, write_text

RECIPE_FILE = "recipe.json"


def corpora_root(recipe: DatasetRecipe, data_root: Path | None, work_dir: Location) -> Path | None:
    """The data root to use: the given one; test-only sets, built in code, always go under
    ``<work_dir>/corpora``, so a real corpora root is never written to. With a work dir on an object
    store they are built in this node's cache (:func:`scratch_corpora`)."""
    if recipe.test_only:
        return scratch_corpora(work_dir) if is_remote(work_dir) else Path(work_dir) / "corpora"
    return data_root


def scratch_corpora(work_dir: Location) -> Path:
    """Where test-only corpora of a work dir on an object store are built: this node's cache."""
    return workspace.cache_root() / "corpora" / hashlib.sha256(str(work_dir).encode()).hexdigest()[:12]


def corpus_key(corpus_dir: Path | None, work_dir: Location) -> str:
    """The corpus as a manifest's key names it: a test-only corpus built in the node cache by where it
    would be under the work dir, so that its manifests keep their names on every node and run."""
    if corpus_dir is not None and is_remote(work_dir):
        scratch = scratch_corpora(work_dir).resolve()
        if corpus_dir == scratch or scratch in corpus_dir.parents:
            return str(join(work_dir, "corpora", *corpus_dir.relative_to(scratch).parts))
    return str(corpus_dir)


def recipe_options(recipe: DatasetRecipe, options: dict[str, Any]) -> dict[str, Any]:
    """Every option of the recipe, the given ones over its defaults; an option it does not take is an error."""
    given = {key: value for key, value in options.items() if value is not None}
    parameters = {
        name: p
        for name, p in list(inspect.signature(recipe.prepare).parameters.items())[3:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        takes = ", ".join(parameters) if parameters else "no options"
        raise DatasetError(
            f"dataset '{recipe.name}' does not take the option(s) {', '.join(unknown)}; it takes {takes}"
        )
    defaults = {name: p.default for name, p in parameters.items() if p.default is not inspect.Parameter.empty}
    return {**defaults, **given}


@dataclass(frozen=True)
class ManifestPlan:
    """Where a dataset's manifest is and what makes it (resolved before anything is prepared)."""

    recipe: DatasetRecipe
    corpus_dir: Path | None  # None: no data root to find the corpus in
    data_root: Path | None
    sample_rate: int
    options: dict[str, Any]
    key: dict[str, Any]
    path: Location  # a Path, or a URI when the work dir is an object store


def plan_manifest(
    name: str, data_root: Path | None, work_dir: Location, sample_rate: int = 16000, **options
) -> ManifestPlan:
    """Resolve a dataset (or ``noise:<dir>``) and its options into the manifest they make."""
    recipe = get_recipe(name)
    options = recipe_options(recipe, options)
    data_root = corpora_root(recipe, data_root, work_dir)
    if recipe.corpus_dir is not None:
        corpus_dir: Path | None = recipe.corpus_dir.resolve()
    else:
        corpus_dir = (Path(data_root) / recipe.corpus_name).resolve() if data_root is not None else None
    key = {
        "dataset": recipe.name,
        "version": recipe.version,
        "resampler": RESAMPLER,
        "schema": SCHEMA_VERSION,
        "corpus": corpus_key(corpus_dir, work_dir),
        "sample_rate": sample_rate,
        "options": options,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    path = join(work_dir, recipe.name, digest, MANIFEST_NAME)
    return ManifestPlan(recipe, corpus_dir, data_root, sample_rate, options, key, path)


def prepare(
    name: str,
    data_root: Path | None,
    work_dir: Path,
    sample_rate: int = 16000,
    download: bool = False,
    force: bool = False,
    **options,
) -> PrepareReport:
    """Make sure the dataset's manifest exists, preparing it from the corpus if needed.

    Args:
        name: a registered dataset, or ``noise:<dir>``.
        data_root: where corpora live (``<data_root>/<corpus>``). Test-only sets are built under
            ``work_dir`` when this is ``None``.
        work_dir: where manifests are written.
        sample_rate: the rate every clip is resampled to.
        download: fetch the corpus first when it is absent.
        force: prepare again even if the manifest exists.
        options: recipe options (``on_missing``, ``seed``, ``split_list``, ...); an option the
            recipe does not take is an error.

    Returns:
        The recipe's report, or an empty one (with a note) when the manifest existed.
    """
    plan = plan_manifest(name, data_root, work_dir, sample_rate, **options)
    return prepare_planned(plan, download, force)


def prepare_planned(plan: ManifestPlan, download: bool = False, force: bool = False) -> PrepareReport:
    """:func:`prepare` for a resolved :class:`ManifestPlan`."""
    recipe = plan.recipe
    if workspace.is_file(plan.path) and not force:
        return PrepareReport(
            dataset=recipe.name, manifest=plan.path, notes=["manifest exists; not prepared again"]
        )
    if plan.corpus_dir is None:
        raise DatasetError(
            f"no data root for '{recipe.name}': pass --data-root, set paths.data_root in the spec, or set "
            f"$RAYSYNTH_DATA to the folder holding {recipe.layout}. To get the corpus: "
            f"`python jobs/prepare.py {recipe.name} --download --root <data_root>` (source: {recipe.url})"
        )
    corpus_dir = plan.corpus_dir
    if recipe.corpus_dir is None and (not corpus_dir.is_dir() or not any(corpus_dir.iterdir())):
        if not (download or recipe.test_only):
            raise DatasetError(
                f"expected the '{recipe.name}' corpus at {corpus_dir} (layout {recipe.layout}), but it is "
                f"missing or empty. Get it with `python jobs/prepare.py {recipe.name} --download --root "
                f"{plan.data_root}` (source: {recipe.url})"
            )
        corpus_dir = recipe.download(Path(plan.data_root))
    folder = workspace.parent(plan.path)
    check_writable(folder)  # before decoding every file
    if not is_remote(plan.path):
        report = recipe.prepare(corpus_dir, Path(folder), plan.sample_rate, **plan.options)
    else:  # made in a local folder, then published whole
        with tempfile.TemporaryDirectory(prefix="raysynth-prepare-") as staging:
            report = recipe.prepare(corpus_dir, Path(staging), plan.sample_rate, **plan.options)
            with workspace.publish(plan.path) as tmp:
                os.replace(Path(staging) / MANIFEST_NAME, tmp)
        report.manifest = plan.path
    write_text(join(folder, RECIPE_FILE), json.dumps(plan.key, indent=2, sort_keys=True, default=str) + "\n")
    return report
