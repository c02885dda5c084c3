"""A trial's data: the real subset plus synthetic clips, checked for leakage down to the source file.

``real_fraction`` of each class's real training clips (stratified, seeded, nested) plus
``synth_multiplier`` x (the class's clips in the full training split) synthetic clips. In
zero-shot trials (``real_fraction == 0``) validation is synthetic: clips generated on top of the
training ones, never real data.

Before a trial trains, :func:`check_disjoint` asserts that no recording reaches two roles it must
not: a test clip's source is never in training or validation, and a held-out test-noise
recording is never in any training or validation input (clips, silence crops, the noise bank).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from raysynth.generators.base import MERGE
from raysynth.train.context import TrialContext
from raysynth.train.data import (
    ClipSet,
    decode_rows,
    load_real,
    load_synthetic,
    noise_sources,
    without_sources,
)
from raysynth.train.rounds import ROUND2_SPLIT, split_counts
from raysynth.train.silence import silence_clips, silence_source


class LeakageError(RuntimeError):
    """A recording that reaches two roles it must not (test and training), named with its clips."""


@dataclass
class Mixture:
    train: ClipSet
    valid: ClipSet
    test: ClipSet
    class_names: list[str]
    num_real: int
    num_synthetic: int
    excluded: int = 0  # real training/validation clips cut from a held-out test-noise recording
    recipe: str | None = None  # the synthetic clips' recipe hash (None: real data only)
    draw: int | None = None  # their draw seed
    quality_kept: dict[str, int] | None = None  # a quality filter's kept clips per class
    quality_rejected: dict[str, int] | None = None  # and the candidates it rejected
    quality_scores: str | None = None  # the score table it read
    silence: str | None = None  # what a speech cell's silence clips are made of (None: it has none)
    cost: dict[str, Any] | None = None  # what its synthetic clips cost to make and score (synthetic_cost)
    round2: dict[str, int] | None = None  # a round-2 trial's clips per class from round 2 (train.rounds)


def check_disjoint(roles: dict[str, set[str]]) -> None:
    """Raise :class:`LeakageError` if a test source (clip or noise) is in a training or validation input.

    Args:
        roles: source ids per role: ``train``, ``valid``, ``test``, ``train_noise``, ``test_noise``.
    """
    held_out = {"test": roles.get("test", set()), "test_noise": roles.get("test_noise", set())}
    seen_in_training = {k: roles.get(k, set()) for k in ("train", "valid", "train_noise")}
    for held, held_ids in held_out.items():
        for role, ids in seen_in_training.items():
            if held == "test" and role == "train_noise":
                continue  # speech and noise come from different corpora
            overlap = held_ids & ids
            if overlap:
                raise LeakageError(
                    f"{len(overlap)} recording(s) of the {held} data are also in {role} "
                    f"(source ids {sorted(overlap)[:5]}); test data must be disjoint from training "
                    f"data down to the source file"
                )


def build_mixture(config: dict[str, Any], context: TrialContext) -> Mixture:
    """The trial's train, validation and test clips (see the module docstring)."""
    real_fraction, multiplier = float(config["real_fraction"]), float(config["synth_multiplier"])
    if real_fraction == 0 and multiplier == 0:
        raise ValueError("real_fraction 0 and synth_multiplier 0 leave nothing to train on")
    num_samples = int(round(context.sample_rate * context.clip_seconds))
    real = load_real(context.manifest, real_fraction, int(config["seed"]), config.get("fold"))
    noise = noise_sources(context.noise_manifest)
    train, excluded_train = without_sources(real.train, noise["test"])
    valid, excluded_valid = without_sources(real.valid, noise["test"])
    uses_noise = config.get("noise_source", "none") == "real"
    check_disjoint({
        "train": set(train.column("source_id").to_pylist()),
        "valid": set(valid.column("source_id").to_pylist()),
        "test": set(real.test.column("source_id").to_pylist()),
        "train_noise": noise["train"] if uses_noise else set(),
        "test_noise": noise["test"],
    })  # fmt: skip
    decode = lambda table: decode_rows(table, num_samples, context.sample_rate)  # noqa: E731
    parts, valid_clips, num_synth, recipe, draw = [decode(train)], decode(valid), 0, None, None
    silence_made = None
    if multiplier > 0:
        sources, draw = context.synthetic_sources(config), context.draw(config)
        recipe = MERGE.join(source.recipe for source in sources)
        spoken, silence = synthetic_counts(multiplier, real.train_counts, sources)
        round2 = context.round2_counts(config) if config.get("round") == 2 else None
        if round2 is not None:  # confusion-driven: part of each class's clips from round 2 (train.rounds)
            spoken, given = split_counts(spoken, context.confusion_share)
            if sum(round2.values()) != given or set(round2) != set(spoken):
                raise ValueError(
                    f"round-2 counts {round2} do not replace the {given} clips this trial gives up"
                )
            recipe += "/round2"
        synth, quality, cost = merged_training(config, context, sources, draw, spoken)
        if round2 is not None:
            extra, extra_cost = round_two_clips(context, sources, draw, round2)
            synth = pa.concat_tables([synth, extra])
            cost = {**cost, **{key: cost[key] + value for key, value in extra_cost.items()}}
        quiet = silence_clips(
            silence, real.class_names, context.noise_manifest, context.sample_rate, num_samples, draw
        )
        num_synth = synth.num_rows + len(quiet)
        parts += [decode(synth), quiet]
        silence_made = silence_source(context.noise_manifest) if silence else None
        if real_fraction == 0:
            per_class = {label: context.train.synthetic_valid_per_class for label in real.train_counts}
            spoken, silence = _split_silence(per_class, sources)
            valid_clips = ClipSet.concat(
                decode(pa.concat_tables([
                    load_synthetic(source.folder, source.recipe, draw, share(spoken, len(sources), k), split="valid")
                    for k, source in enumerate(sources)
                ])),
                silence_clips(silence, real.class_names, context.noise_manifest, context.sample_rate, num_samples,
                              draw, split="valid"),
            )  # fmt: skip
    return Mixture(
        ClipSet.concat(*parts), valid_clips, decode(real.test), real.class_names, train.num_rows, num_synth,
        excluded_train + excluded_valid, recipe, draw, *(quality if multiplier > 0 else (None, None, None)),
        silence_made, cost if multiplier > 0 else None, round2 if multiplier > 0 else None,
    )  # fmt: skip


def synthetic_counts(
    multiplier: float, train_counts: dict[str, int], sources
) -> tuple[dict[str, int], dict[str, int]]:
    """A trial's synthetic clips per class: ``ceil(multiplier x`` its real training clips``)``, split into
    the classes its backends say and the silence classes made in the trial (:func:`_split_silence`).
    The one rule the mixture, the filter-pool check and round 2's give-out all use.

    >>> synthetic_counts(1.5, {"yes": 3, "no": 2}, [])
    ({'yes': 5, 'no': 3}, {})
    """
    counts = {label: math.ceil(multiplier * n) for label, n in train_counts.items()}
    return _split_silence(counts, sources)


def _split_silence(counts: dict[str, int], sources) -> tuple[dict[str, int], dict[str, int]]:
    """``counts`` of the classes the cell's backends say, and of the silence classes a speech backend
    never says (their clips are made in the trial, :mod:`raysynth.train.silence`)."""
    labels = {label for source in sources for label in source.silence}
    silence = {label: n for label, n in counts.items() if label in labels}
    return {label: n for label, n in counts.items() if label not in silence}, silence


def share(counts: dict[str, int], engines: int, k: int) -> dict[str, int]:
    """Engine ``k``'s part of each class's count, split evenly among ``engines`` (the first ones
    take the remainder): a merged cell trains on as many clips as a single-engine one."""
    return {label: n // engines + (1 if k < n % engines else 0) for label, n in counts.items()}


def synthetic_cost(source, pool: pa.Table, score_folder: str | None) -> dict[str, Any]:
    """What the clips a trial read cost: the generation seconds of every clip of its pool (each clip's
    ``gen_seconds``, its batch's time over its clips; a filter's rejected candidates included), the
    device that made them (its shards' provenance), and their scoring seconds (the score table's
    seconds per clip)."""
    from raysynth import storage
    from raysynth.quality.scoring import seconds_per_clip
    from raysynth.schemas import PROVENANCE_KEY

    files = storage.list_files(source.folder)
    metadata = (storage.read_schema(files[0]).metadata or {}) if files else {}
    device = (
        json.loads(metadata[PROVENANCE_KEY]).get("device", "unknown")
        if PROVENANCE_KEY in metadata
        else "unknown"
    )
    return {
        "gen_seconds": float(pa.compute.sum(pool.column("gen_seconds")).as_py() or 0.0),
        "gen_clips": pool.num_rows,
        "gen_device": device,
        "score_seconds": pool.num_rows * seconds_per_clip(score_folder) if score_folder else 0.0,
    }


def merged_training(
    config: dict[str, Any], context: TrialContext, sources, draw: int, counts: dict[str, int]
) -> tuple[pa.Table, tuple, dict[str, Any]]:
    """The synthetic training clips of every engine of the cell (one for a single generator), each
    engine its share of each class (:func:`share`), filtered by its own scores where the cell filters;
    and what they cost (:func:`synthetic_cost`, summed over the engines)."""
    tables, kept, rejected, scores = [], {}, {}, []
    cost: dict[str, Any] = {"gen_seconds": 0.0, "gen_clips": 0, "gen_device": "", "score_seconds": 0.0}
    for k, source in enumerate(sources):
        part = share(counts, len(sources), k)
        table, (part_kept, part_rejected, part_scores), pool = synthetic_training(
            {**config, "generator": source.generator}, context, source, draw, part
        )
        part_cost = synthetic_cost(source, pool, part_scores)
        for key in ("gen_seconds", "gen_clips", "score_seconds"):
            cost[key] += part_cost[key]
        devices = set(filter(None, cost["gen_device"].split(";"))) | {part_cost["gen_device"]}
        cost["gen_device"] = ";".join(sorted(devices))
        tables.append(table)
        for total, add in ((kept, part_kept), (rejected, part_rejected)):
            for label, n in (add or {}).items():
                total[label] = total.get(label, 0) + n
        if part_scores is not None:
            scores.append(str(part_scores))
    quality = (kept, rejected, ";".join(scores)) if scores else (None, None, None)
    return (tables[0] if len(tables) == 1 else pa.concat_tables(tables)), quality, cost


def synthetic_training(
    config: dict[str, Any], context: TrialContext, source, draw: int, counts: dict[str, int]
) -> tuple[pa.Table, tuple, pa.Table]:
    """The trial's synthetic training clips, (kept, rejected, score table) where it filters, and the
    pool it read (the clips themselves, or a filter's candidates).

    A filter (``quality_filter``) reads the first ``pool_count`` clips of each class by index, and
    keeps ``counts[label]`` of them by their score (:func:`raysynth.quality.filters.select`).
    """
    from raysynth.quality.filters import parse_filter, pool_count, select
    from raysynth.quality.scoring import load_scores
    from raysynth.quality.teacher import teacher_subset

    quality_filter = parse_filter(config.get("quality_filter"))
    if quality_filter is None:
        table = load_synthetic(source.folder, source.recipe, draw, counts)
        return table, (None, None, None), table
    pools = {label: pool_count(n, quality_filter, context.quality.oversample) for label, n in counts.items()}
    table = load_synthetic(source.folder, source.recipe, draw, pools)
    scores = context.score_table(
        source.recipe, quality_filter.score, config.get("fold"), teacher_subset(config)
    )
    score, _ = load_scores(scores.folder, table.column("id").to_pylist())
    labels, index = table.column("label").to_pylist(), table.column("index").to_pylist()
    rows, kept, rejected = select(labels, index, score, counts, quality_filter)
    return table.take(pa.array(rows, type=pa.int64())), (kept, rejected, scores.folder), table


def check_filter_pools(cells: list[dict[str, Any]], context: TrialContext) -> None:
    """Run the mixture's filter step of every trial that filters by a threshold, on the driver once the
    scores exist, so that a threshold that keeps too few clips stops the run with one line
    (:class:`~raysynth.quality.filters.QualityShortfall`) before any trial starts."""
    for config in cells:
        if float(config["synth_multiplier"]) <= 0 or "_threshold:" not in str(config.get("quality_filter")):
            continue
        real = load_real(context.manifest, float(config["real_fraction"]), int(config["seed"]),
                         config.get("fold"))  # fmt: skip
        sources = context.synthetic_sources(config)
        spoken, _ = synthetic_counts(float(config["synth_multiplier"]), real.train_counts, sources)
        merged_training(config, context, sources, context.draw(config), spoken)


def round_two_clips(context, sources, draw: int, counts: dict[str, int]):
    """The round-2 clips of a trial: each engine of its cell its share of ``counts`` (as in round 1),
    from the recipe's ``round2`` split; and what they cost."""
    tables, cost = [], {"gen_seconds": 0.0, "gen_clips": 0, "score_seconds": 0.0}
    for k, source in enumerate(sources):
        table = load_synthetic(
            source.folder, source.recipe, draw, share(counts, len(sources), k), ROUND2_SPLIT
        )
        part = synthetic_cost(source, table, None)
        for key in cost:
            cost[key] += part[key]
        tables.append(table)
    return pa.concat_tables(tables), cost
