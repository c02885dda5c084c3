"""The quality plan of an experiment: the candidate pools of its filtered cells, the teachers it
trains (one per test fold) and the score tables it fills (one per recipe and scorer).

A teacher is planned where a cell filters on the ``teacher`` score, or where ``quality.measure``
embeds with it; a CLAP score table where a cell filters on ``clap``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raysynth.config import ExperimentSpec
from raysynth.generators.base import engines_of
from raysynth.quality.filters import parse_filter
from raysynth.quality.scoring import ScoreJob, scorer_key, scores_dir
from raysynth.quality.teacher import TeacherPlan, teacher_path, teacher_subset


def candidate_pools(cells: list[dict[str, Any]]) -> dict[tuple, tuple[tuple[float, str | None], ...]]:
    """Per (generator, strategy, variant): the (synth_multiplier, quality_filter) pairs of its cells
    (a merged cell's pairs count for each of its engines)."""
    pools: dict[tuple, set] = {}
    for c in cells:
        if c["synth_multiplier"] > 0:
            for engine in engines_of(c["generator"]):
                key = (engine, c["strategy"], c["variant"])
                pools.setdefault(key, set()).add((c["synth_multiplier"], c["quality_filter"]))
    return {key: tuple(sorted(pairs, key=str)) for key, pairs in pools.items()}


def _score_kind(cell: dict[str, Any]) -> str | None:
    parsed = parse_filter(cell.get("quality_filter"))
    return parsed.score if parsed is not None else None


def teacher_keys(spec: ExperimentSpec, cells: list[dict[str, Any]]) -> list[tuple]:
    """The (fold, real_fraction, seed) of every teacher some cell needs: its filter's (its own real
    subset), and the measure's embedding (the fold's whole training split)."""
    measure = spec.quality.measure and spec.quality.embedding == "teacher"
    keys = {
        (c["fold"], *teacher_subset(c))
        for c in cells
        if c["synth_multiplier"] > 0 and _score_kind(c) == "teacher"
    }
    keys |= {(c["fold"], 1.0, 0) for c in cells if c["synth_multiplier"] > 0 and measure}
    return sorted(keys, key=lambda k: (k[0] is not None, k[0] or 0, k[1], k[2]))


def plan_teacher(spec: ExperimentSpec, manifest: Path, work_dir: Path, key: tuple,
                 noise_manifest: str | None = None) -> TeacherPlan:  # fmt: skip
    # The experiment's own training settings (batch size, learning rate), for a fixed number of epochs.
    fold, real_fraction, seed = key
    args = (spec.dataset.sample_rate, spec.dataset.clip_seconds, spec.train.n_mels, spec.quality.teacher_epochs,
            spec.train.batch_size, spec.train.learning_rate, seed, real_fraction, noise_manifest)  # fmt: skip
    path = teacher_path(work_dir, spec.dataset.name, str(manifest), fold, *args)
    return TeacherPlan(str(path), str(manifest), fold, *args)


def plan_quality(spec: ExperimentSpec, recipe, manifest: Path, work_dir: Path, jobs, cells,
                 noise_manifest: Path | None = None) -> tuple:  # fmt: skip
    """The experiment's teachers and score jobs (both empty when nothing needs them)."""
    noise = str(noise_manifest) if noise_manifest is not None else None
    teachers = {key: plan_teacher(spec, manifest, work_dir, key, noise) for key in teacher_keys(spec, cells)}
    num_samples = int(round(spec.dataset.sample_rate * spec.dataset.clip_seconds))
    score_jobs = []
    for job in jobs:
        mine = [c for c in cells if c["synth_multiplier"] > 0 and job.generator in engines_of(c["generator"])
                and (c["strategy"], c["variant"]) == (job.strategy, job.variant)]  # fmt: skip
        kinds = {_score_kind(c) for c in mine} - {None}
        common = dict(shards=str(job.folder), recipe=job.recipe_hash, sample_rate=spec.dataset.sample_rate,
                      num_samples=num_samples)  # fmt: skip
        if "teacher" in kinds:
            for teacher_key in sorted({(c["fold"], *teacher_subset(c)) for c in mine if _score_kind(c) == "teacher"},
                                      key=str):  # fmt: skip
                plan = teachers[teacher_key]
                key = scorer_key("teacher", plan.path, (), None, False)
                folder = scores_dir(work_dir, spec.dataset.name, job.recipe_hash, key)
                score_jobs.append(ScoreJob("teacher", folder=str(folder), teacher=plan.path, fold=plan.fold,
                                           real_fraction=plan.real_fraction, seed=plan.seed, **common))  # fmt: skip
        if "asr" in kinds:
            from raysynth.generators import BACKENDS, GeneratorError
            from raysynth.quality.asr import version

            if not BACKENDS[job.generator].speech:
                raise GeneratorError(
                    f"quality_filter asr_* hears words, but {job.generator} makes sounds: use it with a speech "
                    f"generator (tts, piper, kokoro, flite)"
                )

            key = scorer_key("asr", None, (job.template, str(manifest), version()), None, False)
            folder = scores_dir(work_dir, spec.dataset.name, job.recipe_hash, key)
            score_jobs.append(ScoreJob("asr", folder=str(folder), template=job.template, **common))
        if "clap" in kinds:
            template = recipe.prompt_template
            key = scorer_key(
                "clap", None, (template, str(manifest)), spec.quality.clap_model_id, spec.quality.tiny
            )
            folder = scores_dir(work_dir, spec.dataset.name, job.recipe_hash, key)
            score_jobs.append(ScoreJob("clap", folder=str(folder), clap_model_id=spec.quality.clap_model_id,
                                       tiny=spec.quality.tiny, template=template, **common))  # fmt: skip
    return tuple(teachers.values()), tuple(score_jobs)
