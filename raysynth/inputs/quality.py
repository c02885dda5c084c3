"""The quality plan of an experiment: the candidate pools of its filtered cells, the teachers it
trains (one per test fold) and the score tables it fills (one per recipe and scorer).

A teacher is planned where a cell filters on the ``teacher`` score, or where ``quality.measure``
embeds with it; a CLAP score table where a cell filters on ``clap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raysynth.config import ExperimentSpec
from raysynth.quality.clap import DEFAULT_CLAP, check_reachable
from raysynth.quality.filters import parse_filter
from raysynth.quality.scoring import ScoreJob, scorer_key, scores_dir
from raysynth.quality.teacher import TeacherPlan, teacher_path


def candidate_pools(cells: list[dict[str, Any]]) -> dict[tuple, tuple[tuple[float, str | None], ...]]:
    """Per (generator, strategy, variant): the (synth_multiplier, quality_filter) pairs of its cells."""
    pools: dict[tuple, set] = {}
    for c in cells:
        if c["synth_multiplier"] > 0:
            key = (c["generator"], c["strategy"], c["variant"])
            pools.setdefault(key, set()).add((c["synth_multiplier"], c["quality_filter"]))
    return {key: tuple(sorted(pairs, key=str)) for key, pairs in pools.items()}


def _score_kind(cell: dict[str, Any]) -> str | None:
    parsed = parse_filter(cell.get("quality_filter"))
    return parsed.score if parsed is not None else None


def teacher_folds(spec: ExperimentSpec, cells: list[dict[str, Any]]) -> list[int | None]:
    """The test folds whose teacher some cell needs (its filter, or the measure's embedding)."""
    measure = spec.quality.measure and spec.quality.embedding == "teacher"
    folds = {
        c["fold"] for c in cells if c["synth_multiplier"] > 0 and (_score_kind(c) == "teacher" or measure)
    }
    return sorted(folds, key=lambda f: (f is not None, f or 0))


def plan_teacher(spec: ExperimentSpec, manifest: Path, work_dir: Path, fold: int | None) -> TeacherPlan:
    # The experiment's own training settings (batch size, learning rate), for a fixed number of epochs.
    args = (spec.dataset.sample_rate, spec.dataset.clip_seconds, spec.train.n_mels, spec.quality.teacher_epochs,
            spec.train.batch_size, spec.train.learning_rate)  # fmt: skip
    path = teacher_path(work_dir, spec.dataset.name, str(manifest), fold, *args)
    return TeacherPlan(str(path), str(manifest), fold, *args)


def plan_quality(spec: ExperimentSpec, recipe, manifest: Path, work_dir: Path, jobs, cells) -> tuple:
    """The experiment's teachers and score jobs (both empty when nothing needs them)."""
    teachers = {fold: plan_teacher(spec, manifest, work_dir, fold) for fold in teacher_folds(spec, cells)}
    num_samples = int(round(spec.dataset.sample_rate * spec.dataset.clip_seconds))
    score_jobs = []
    for job in jobs:
        mine = [c for c in cells if c["synth_multiplier"] > 0
                and (c["generator"], c["strategy"], c["variant"]) == (job.generator, job.strategy, job.variant)]  # fmt: skip
        kinds = {_score_kind(c) for c in mine} - {None}
        common = dict(shards=str(job.folder), recipe=job.recipe_hash, sample_rate=spec.dataset.sample_rate,
                      num_samples=num_samples)  # fmt: skip
        if "teacher" in kinds:
            for fold in sorted({c["fold"] for c in mine if _score_kind(c) == "teacher"}, key=str):
                key = scorer_key("teacher", teachers[fold].path, (), None, False)
                folder = scores_dir(work_dir, spec.dataset.name, job.recipe_hash, key)
                score_jobs.append(ScoreJob("teacher", folder=str(folder), teacher=teachers[fold].path,
                                           fold=fold, **common))  # fmt: skip
        if "clap" in kinds:
            if not spec.quality.tiny:
                check_reachable(spec.quality.clap_model_id or DEFAULT_CLAP, "quality.clap_model_id")
            template = recipe.prompt_template
            key = scorer_key(
                "clap", None, (template, str(manifest)), spec.quality.clap_model_id, spec.quality.tiny
            )
            folder = scores_dir(work_dir, spec.dataset.name, job.recipe_hash, key)
            score_jobs.append(ScoreJob("clap", folder=str(folder), clap_model_id=spec.quality.clap_model_id,
                                       tiny=spec.quality.tiny, template=template, **common))  # fmt: skip
    return tuple(teachers.values()), tuple(score_jobs)
