"""The plan of a generation job: its clips, from the classes and counts of the prepared manifest."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from raysynth.datasets import read_manifest
from raysynth.datasets.manifest import manifest_classes as stored_classes
from raysynth.datasets.sampling import largest_training_counts, with_unrecorded
from raysynth.generate.plan import ClassInfo, PlanError, pin_batches, plan_clips
from raysynth.generators import BACKENDS
from raysynth.inputs.resolve import GenerationJob
from raysynth.train.rounds import ROUND2_SPLIT


def manifest_classes(manifest: Path) -> tuple[list[ClassInfo], dict[str, int]]:
    """The classes of a manifest (by label id) and each class's clip count in the training part.

    For manifests split into folds, the count is the largest over the folds' training parts, so
    the shards serve every fold. A class with no recording (:func:`with_unrecorded`) gets the
    median of the others, and its name as its text. A test-only corpus (the Speech Commands test-set release) has no
    training part: its test split's counts stand in, so ``synth_multiplier`` keeps its scale.
    """
    table = read_manifest(manifest, columns=["split", "label", "label_id", "label_text"]).to_pylist()
    classes = {row["label"]: ClassInfo(row["label"], row["label_id"], row["label_text"]) for row in table}
    train_counts = largest_training_counts([(row["split"], row["label"]) for row in table])
    if not train_counts:
        train_counts = Counter(row["label"] for row in table if row["split"] == "test")
    recorded = set(classes)
    names = stored_classes(manifest) or sorted(recorded, key=lambda label: classes[label].label_id)
    for label_id, label in enumerate(names):  # a class with no recording: prompted by its name
        classes.setdefault(label, ClassInfo(label, label_id, label))
    counts = with_unrecorded(dict(train_counts), names, recorded)
    return sorted(classes.values(), key=lambda c: c.label_id), counts


def noise_classes(noise_manifest: Path) -> list[ClassInfo]:
    """The training recordings of a noise manifest, as classes (their names prompt generated noise)."""
    rows = read_manifest(noise_manifest, columns=["split", "label", "label_id", "label_text"]).to_pylist()
    found = {
        r["label"]: ClassInfo(r["label"], r["label_id"], r["label_text"])
        for r in rows
        if r["split"] == "train"
    }
    return sorted(found.values(), key=lambda c: c.label_id)


def pool_size(job: GenerationJob, real_clips: int) -> int:
    """The training clips a class needs: the largest candidate pool of the job's cells (without
    filters, ``synth_multiplier`` x the class's real training clips)."""
    from raysynth.quality.filters import parse_filter, pool_count

    pools = job.pools or ((job.train_multiplier, None),)
    return max(
        pool_count(math.ceil(multiplier * real_clips), parse_filter(name), job.oversample)
        for multiplier, name in pools
    )


def load_descriptions(path: Path) -> dict[str, list[str]]:
    from raysynth.prompts.llm import DescriptionSet

    return DescriptionSet.load(path).descriptions


def speech_words(job: GenerationJob, classes: list[ClassInfo]):
    """What a speech job says per class (:func:`raysynth.prompts.words.speech_classes`); a class with
    nothing to say is a :class:`~raysynth.generate.PlanError`, before any clip is generated."""
    from raysynth.prompts.words import WordsError, speech_classes

    try:
        said = speech_classes([(c.label, c.label_text) for c in classes], job.template, job.config.words,
                              job.unknown_words, job.config.unknown_exclude)  # fmt: skip
    except WordsError as error:
        raise PlanError(f"{job.generator}: {error}") from None
    if set(said.silence) != set(job.silence) & {c.label for c in classes}:
        raise PlanError(
            f"{job.generator}: the silence classes {said.silence} differ from the plan's {job.silence}"
        )
    return said


def plan_job(
    job: GenerationJob, manifest: Path, round2: dict[int, dict[str, int]] | None = None
) -> list[dict]:
    """Every clip ``job`` makes: for each draw, the training clips, then the validation clips; with
    ``round2`` (counts per class by draw, :mod:`raysynth.sweep.rounds`), the round-2 clips only."""
    if job.noise:
        classes, counts = noise_classes(manifest), None
    else:
        classes, train_counts = manifest_classes(manifest)
        counts = {label: pool_size(job, n) for label, n in train_counts.items()}
    descriptions = None
    if job.descriptions is not None:
        from raysynth.prompts.llm import DescriptionError

        descriptions = load_descriptions(job.descriptions)
        missing = [c.label_text for c in classes if c.label_text not in descriptions]
        if missing:
            raise DescriptionError(f"{job.descriptions} has no entry for label(s) {missing[:5]}")
    dataset = read_manifest(manifest, columns=["dataset"]).column("dataset")[0].as_py()
    speech = {}
    if BACKENDS[job.generator].speech and not job.noise:
        said = speech_words(job, classes)
        speech = {"texts": said.texts, "skip": said.silence}
    rows: list[dict] = []
    for draw in job.draws if round2 is None else sorted(round2):
        common = dict(dataset=dataset, classes=classes, recipe=job.recipe, strategy=job.strategy, draw=draw,
                      template=job.template, descriptions=descriptions, llm_k=job.llm_k, **speech)  # fmt: skip
        if round2 is not None:
            rows += plan_clips(counts=round2[draw], split=ROUND2_SPLIT, **common)
            continue
        rows += plan_clips(counts=counts if counts is not None else job.per_class, **common)
        if job.valid_per_class:
            rows += plan_clips(counts=job.valid_per_class, split="valid", **common)
    if "gpu_batch_size" in job.recipe:  # on a GPU a clip's batch-mates are part of its id
        rows = pin_batches(rows, job.recipe["gpu_batch_size"])
    return rows
