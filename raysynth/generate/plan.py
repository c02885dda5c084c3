"""The generation plan: one row per synthetic clip, with a content-addressed id.

A clip's id is a hash of (generator, model id, strategy, label, index, seed), so the same plan
always names the same clips, and a resumed run can tell which clips it already has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from raysynth.prompts import make_prompt
from raysynth.storage import Location, join


@dataclass(frozen=True)
class ClassInfo:
    label: str
    label_id: int
    label_text: str


def clip_seed(base_seed: int, label: str, index: int) -> int:
    """A per-clip seed derived from the run seed, the label and the clip index."""
    digest = hashlib.sha256(f"{base_seed}|{label}|{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def clip_id(generator: str, model_id: str, strategy: str, label: str, index: int, seed: int) -> str:
    """The content address of a synthetic clip."""
    key = f"{generator}|{model_id}|{strategy}|{label}|{index}|{seed}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def shard_dir(store: Location, dataset: str, generator: str, strategy: str) -> Location:
    """``<store>/<dataset>/<generator>/<strategy>``, the folder of one run's shards (local or s3://)."""
    return join(store, dataset, generator, strategy)


class PlanError(ValueError):
    """A generation plan that cannot be made (no labels, a negative count), with the value at fault."""


def plan_clips(
    dataset: str,
    classes: list[ClassInfo],
    generator: str,
    model_id: str,
    strategy: str,
    clips_per_class: int | dict[str, int],
    seed: int,
    template: str | None = None,
    descriptions: dict[str, list[str]] | None = None,
    llm_k: int = 3,
) -> list[dict]:
    """Plan clips for every class, in a stable order (class, then index).

    Args:
        dataset: dataset name recorded in each row.
        classes: the labels to generate.
        generator: backend name.
        model_id: the model's id, part of the content address.
        strategy: prompt strategy.
        clips_per_class: how many clips per class, one number or a number per label.
        seed: run seed; each clip gets its own seed derived from it.
        template: label-guided prompt template.
        descriptions: per label text, the LLM descriptions (strategy ``llm``).
        llm_k: descriptions sampled into each ``llm`` prompt.
    """
    if not classes:
        raise PlanError(
            f"cannot plan generation for '{dataset}': the label list is empty (expected at least one)"
        )
    counts = (
        {info.label: clips_per_class for info in classes}
        if isinstance(clips_per_class, int)
        else clips_per_class
    )
    rows = []
    for info in classes:
        count = counts.get(info.label, 0)
        if count < 0:
            raise PlanError(f"clips per class has to be >= 0, but is {count} for '{info.label}'")
        label_descriptions = (descriptions or {}).get(info.label_text)
        for index in range(count):
            seed_k = clip_seed(seed, info.label, index)
            prompt = make_prompt(strategy, info.label_text, template, label_descriptions, seed_k, llm_k)
            rows.append(
                {
                    "id": clip_id(generator, model_id, strategy, info.label, index, seed_k),
                    "dataset": dataset,
                    "label": info.label,
                    "label_id": info.label_id,
                    "generator": generator,
                    "model_id": model_id,
                    "strategy": strategy,
                    "prompt": prompt,
                    "seed": seed_k,
                    "index": index,
                }
            )
    return rows
