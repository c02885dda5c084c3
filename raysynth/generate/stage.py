"""The generation stage of an experiment: from a spec and a manifest to the shards it needs."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from raysynth.config import ExperimentSpec
from raysynth.datasets import get_recipe, read_manifest
from raysynth.datasets.base import STANDARD_SPLITS, split_roles
from raysynth.generate.engine import GenerationSummary, existing_ids, run_generation
from raysynth.generate.plan import ClassInfo, plan_clips, shard_dir
from raysynth.generators import GeneratorError, resolve_model_id
from raysynth.storage import Location


def manifest_classes(manifest: Path) -> tuple[list[ClassInfo], dict[str, int]]:
    """The classes of a manifest (by label id) and each class's clip count in the training part.

    For manifests split into folds, the count is the largest over the folds' training parts, so
    the shards serve every fold.
    """
    table = read_manifest(manifest, columns=["split", "label", "label_id", "label_text"]).to_pylist()
    classes = {row["label"]: ClassInfo(row["label"], row["label_id"], row["label_text"]) for row in table}
    splits = {row["split"] for row in table}
    folds = [None] if splits <= STANDARD_SPLITS else sorted(splits)
    train_counts: Counter[str] = Counter()
    for fold in folds:
        train_splits, _, _ = split_roles(splits, fold)
        counts = Counter(row["label"] for row in table if row["split"] in train_splits)
        train_counts = train_counts | counts
    return sorted(classes.values(), key=lambda c: c.label_id), dict(train_counts)


def synth_counts(train_counts: dict[str, int], multiplier: float) -> dict[str, int]:
    """Synthetic clips per class: ``multiplier`` x the class's clips in the full training split."""
    return {label: math.ceil(multiplier * count) for label, count in train_counts.items()}


def load_descriptions(spec: ExperimentSpec) -> dict[str, list[str]]:
    """The LLM descriptions for the spec's dataset: its own file, or the one shipped with the package."""
    from raysynth.prompts.llm import DescriptionSet, shipped_descriptions

    path = (
        Path(spec.generation.descriptions)
        if spec.generation.descriptions
        else shipped_descriptions(spec.dataset.name)
    )
    return DescriptionSet.load(path).descriptions


def plan_for_spec(
    spec: ExperimentSpec, manifest: Path, strategy: str, multiplier: float, generator: str
) -> list[dict]:
    classes, train_counts = manifest_classes(manifest)
    recipe = get_recipe(spec.dataset.name)
    descriptions = None
    if strategy == "llm":
        from raysynth.prompts.llm import DescriptionError

        descriptions = load_descriptions(spec)
        missing = [c.label_text for c in classes if c.label_text not in descriptions]
        if missing:
            raise DescriptionError(f"the description file has no entry for label(s) {missing[:5]}")
    return plan_clips(
        dataset=spec.dataset.name,
        classes=classes,
        generator=generator,
        model_id=resolve_model_id(spec.generation.for_generator(generator)),
        strategy=strategy,
        clips_per_class=synth_counts(train_counts, multiplier),
        seed=spec.generation.seed,
        template=spec.generation.prompt_template or recipe.prompt_template,
        descriptions=descriptions,
        llm_k=spec.generation.llm_k,
    )


def store_dir(spec: ExperimentSpec, store: Location, strategy: str, generator: str) -> Location:
    return shard_dir(store, spec.dataset.name, generator, strategy)


def synthetic_sources(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """Every (generator, strategy) pair the grid trains on."""
    return [(g, s) for g in spec.generators() for s in spec.grid.strategy]


def check_spec_generators(spec: ExperimentSpec) -> None:
    """Every generator the spec names is registered and its settings are valid, before any GPU."""
    from raysynth.generators import check_generation

    for name in spec.per_generator_names():
        if name not in spec.generators():
            raise GeneratorError(
                f"generation.per_generator has '{name}', which is not a generator of this spec "
                f"({', '.join(spec.generators())})"
            )
    for name in spec.generators():
        try:
            check_generation(spec.generation.for_generator(name))
        except GeneratorError as error:
            where = "grid.generator" if spec.grid.generator else "generation.generator"
            raise GeneratorError(f"{where}: {error}") from None


def missing_synthetic(spec: ExperimentSpec, manifest: Path, store: Location) -> dict[str, int]:
    """Per "generator/strategy", how many planned clips are not on disk yet (the largest multiplier counts)."""
    multiplier = max(spec.grid.synth_multiplier)
    missing = {}
    for generator, strategy in synthetic_sources(spec):
        plan = plan_for_spec(spec, manifest, strategy, multiplier, generator)
        done = existing_ids(store_dir(spec, store, strategy, generator))
        missing[f"{generator}/{strategy}"] = sum(row["id"] not in done for row in plan)
    return missing


def ensure_synthetic(spec: ExperimentSpec, manifest: Path, store: Location) -> list[GenerationSummary]:
    """Generate whatever the spec's largest synth_multiplier needs and is not on disk yet."""
    if not spec.needs_synthetic():
        return []
    multiplier = max(spec.grid.synth_multiplier)
    summaries = []
    for generator, strategy in synthetic_sources(spec):
        plan = plan_for_spec(spec, manifest, strategy, multiplier, generator)
        summaries.append(
            run_generation(
                plan,
                store_dir(spec, store, strategy, generator),
                spec.generation.for_generator(generator),
                spec.dataset.sample_rate,
                spec.spec_hash(),
            )
        )
    return summaries


def noise_store_dir(store: Location, noise_manifest: Path, generator: str) -> Location:
    return shard_dir(store, noise_manifest.parent.name, generator, "label")


def plan_noise(spec: ExperimentSpec, noise_manifest: Path, generator: str) -> list[dict]:
    """Synthetic noise: ``synthetic_clips_per_recording`` clips prompted by each *training* recording's name."""
    rows = read_manifest(noise_manifest, columns=["split", "label", "label_id", "label_text"]).to_pylist()
    classes = {
        r["label"]: ClassInfo(r["label"], r["label_id"], r["label_text"])
        for r in rows
        if r["split"] == "train"
    }
    return plan_clips(
        dataset=noise_manifest.parent.name,
        classes=sorted(classes.values(), key=lambda c: c.label_id),
        generator=generator,
        model_id=resolve_model_id(spec.generation.for_generator(generator)),
        strategy="label",
        clips_per_class=spec.noise.synthetic_clips_per_recording,
        seed=spec.generation.seed,
        template="{label} noise",
    )


def ensure_synthetic_noise(
    spec: ExperimentSpec, noise_manifest: Path, store: Location
) -> list[GenerationSummary]:
    """Generate, with each of the spec's generators, the noise clips ``noise_source: synthetic`` trains with."""
    return [
        run_generation(
            plan_noise(spec, noise_manifest, generator),
            noise_store_dir(store, noise_manifest, generator),
            spec.generation.for_generator(generator),
            spec.dataset.sample_rate,
            spec.spec_hash(),
        )
        for generator in spec.generators()
    ]
