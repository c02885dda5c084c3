"""The generation plan: one row per synthetic clip, with a content-addressed id.

A clip's id hashes its **recipe** (the backend, the model and every setting that changes the
audio, see :func:`raysynth.generators.generation_recipe`, plus the dataset's rate and clip
length), its prompt text, label, split, index and seed. Two runs that differ in any of these
never share a clip; two identical runs share all of them, so a resumed run can tell which clips it
already has. A run's shards sit in a folder named by the recipe hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from raysynth.prompts import make_prompt
from raysynth.storage import Location, join

SPLITS = ("train", "valid", "round2")  # round2: confusion-driven clips (train.rounds)


@dataclass(frozen=True)
class ClassInfo:
    label: str
    label_id: int
    label_text: str


class PlanError(ValueError):
    """A generation plan that cannot be made (no labels, a negative count), with the value at fault."""


def recipe_hash(recipe: dict[str, Any]) -> str:
    """The short hash naming a recipe (stable across key order)."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def draw_seed(generation_seed: int, trial_seed: int, per_seed: bool = True) -> int:
    """The seed a trial's synthetic clips are drawn under: its own per trial seed, or one shared draw."""
    return generation_seed + trial_seed if per_seed else generation_seed


def clip_seed(draw: int, label: str, index: int, split: str = "train") -> int:
    """A per-clip seed derived from the draw seed, the label, the split and the clip index."""
    key = f"{draw}|{label}|{index}" if split == "train" else f"{draw}|{label}|{split}|{index}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") & 0x7FFFFFFF


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of the ``attempt``-th regeneration of a clip planned with ``seed`` (0: ``seed`` itself)."""
    return (seed + attempt * 7919) & 0x7FFFFFFF


def clip_id(recipe: str, prompt: str, label: str, split: str, index: int, seed: int) -> str:
    """The content address of a synthetic clip."""
    key = json.dumps([recipe, prompt, label, split, index, seed])
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def pin_batches(rows: list[dict], batch_size: int) -> list[dict]:
    """``rows`` with each id naming the batch it is generated in (the plan cut into ``batch_size``
    rows, as :func:`raysynth.generate.engine.chunk_plan` cuts it): each batch-mate's prompt and seed.

    On a GPU a clip may change with its batch (:func:`raysynth.generators.pins_batches`), so two
    runs that batch a clip differently must never share its id; a clip in the same batch, of the
    same recipe, keeps it, and a resumed run still finds it.
    """
    pinned = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        mates = hashlib.sha256(json.dumps([[r["prompt"], r["seed"]] for r in batch]).encode()).hexdigest()
        for row in batch:
            pinned.append({**row, "id": hashlib.sha256(f"{row['id']}|{mates}".encode()).hexdigest()[:24]})
    return pinned


def shard_dir(store: Location, dataset: str, generator: str, strategy: str, recipe: str) -> Location:
    """``<store>/<dataset>/<generator>/<strategy>/<recipe>``: the shards of one recipe (local or s3://)."""
    return join(store, dataset, generator, strategy, recipe)


def plan_clips(
    dataset: str,
    classes: list[ClassInfo],
    recipe: dict[str, Any],
    strategy: str,
    counts: int | dict[str, int],
    draw: int,
    split: str = "train",
    template: str | None = None,
    descriptions: dict[str, list[str]] | None = None,
    llm_k: int = 3,
    texts: dict[str, tuple[str, ...]] | None = None,
    skip: tuple[str, ...] = (),
) -> list[dict]:
    """Plan clips for every class, in a stable order (class, then index).

    Args:
        dataset: dataset name recorded in each row.
        classes: the labels to generate.
        recipe: the generation recipe (its hash is part of every id).
        strategy: prompt strategy.
        counts: clips per class, one number or a number per label.
        draw: the draw seed; each clip gets its own seed derived from it.
        split: ``train``, or ``valid`` for zero-shot validation clips (their own seeds).
        template: label-guided prompt template.
        descriptions: per label text, the LLM descriptions (strategy ``llm``).
        llm_k: descriptions sampled into each ``llm`` prompt.
        texts: per label, texts a clip draws one of by its seed, in place of the label text (a speech
            job's ``_unknown_`` vocabulary, a class's ``generation.words``).
        skip: labels never generated (a speech job's silence: its clips are made in the trial).
    """
    if not classes:
        raise PlanError(
            f"cannot plan generation for '{dataset}': the label list is empty (expected at least one)"
        )
    if split not in SPLITS:
        raise PlanError(f"split has to be one of {SPLITS}, but is {split!r}")
    per_class = {info.label: counts for info in classes} if isinstance(counts, int) else counts
    hashed = recipe_hash(recipe)
    rows = []
    for info in classes:
        count = 0 if info.label in skip else per_class.get(info.label, 0)
        if count < 0:
            raise PlanError(f"clips per class has to be >= 0, but is {count} for '{info.label}'")
        label_descriptions = (descriptions or {}).get(info.label_text)
        for index in range(count):
            seed = clip_seed(draw, info.label, index, split)
            options = (texts or {}).get(info.label)
            text = (
                options[
                    int.from_bytes(hashlib.sha256(f"text|{seed}".encode()).digest()[:4], "little")
                    % len(options)
                ]
                if options
                else info.label_text
            )
            prompt = make_prompt(strategy, text, template, label_descriptions, seed, llm_k)
            rows.append(
                {
                    "id": clip_id(hashed, prompt, info.label, split, index, seed),
                    "dataset": dataset,
                    "label": info.label,
                    "label_id": info.label_id,
                    "generator": recipe["generator"],
                    "model_id": recipe["model_id"],
                    "strategy": strategy,
                    "recipe": hashed,
                    "split": split,
                    "draw_seed": draw,
                    "prompt": prompt,
                    "seed": seed,
                    "attempt": 0,
                    "params": "{}",
                    "index": index,
                }
            )
    return rows
