"""An experiment's inputs: the spec resolved once into plain values, and the stages that build them.

>>> resolved = resolve(load_spec("search_spaces/smoke.yaml"), None, Path("work"))  # doctest: +SKIP
>>> inputs = ensure(resolved)            # manifest, noise manifest, shards, generated noise, embeddings
>>> context = trial_context(resolved, inputs)   # what every trial shares  # doctest: +SKIP
"""

from __future__ import annotations

from raysynth.inputs.cells import table_axes, trial_cells, varying_axes
from raysynth.inputs.resolve import GenerationJob, InputError, Resolved, resolve
from raysynth.inputs.stages import Inputs, MissingInputs, check, ensure
from raysynth.storage import join
from raysynth.train.context import ScoreTable, SyntheticSource, TrialContext


def trial_context(r: Resolved, inputs: Inputs | None = None) -> TrialContext:
    """The :class:`TrialContext` every trial of ``r`` shares."""

    def source(job: GenerationJob) -> SyntheticSource:
        return SyntheticSource(str(job.folder), job.recipe_hash, job.generator, job.strategy, job.variant,
                               job.silence)  # fmt: skip

    return TrialContext(
        manifest=str(r.manifest.path),
        sample_rate=r.sample_rate,
        clip_seconds=r.clip_seconds,
        train=r.train,
        noise=r.noise,
        synthetic=tuple(source(job) for job in r.generation),
        noise_manifest=str(r.noise_manifest.path) if r.noise_manifest else None,
        synthetic_noise=tuple(source(job) for job in r.synthetic_noise),
        embeddings=str(inputs.embeddings) if inputs and inputs.embeddings else None,
        generation_seed=r.generation_seed,
        draw_per_seed=r.draw_per_seed,
        quality=r.quality,
        scores=tuple(
            ScoreTable(j.recipe, j.kind, j.fold, j.folder, (j.real_fraction, j.seed)) for j in r.score_jobs
        ),
        teachers=tuple((t.fold, t.path) for t in r.teachers if t.real_fraction == 1.0),  # the measure's
        features=str(join(r.work_dir, "features")),
    )


__all__ = [
    "GenerationJob",
    "InputError",
    "Inputs",
    "MissingInputs",
    "Resolved",
    "check",
    "ensure",
    "resolve",
    "table_axes",
    "trial_cells",
    "trial_context",
    "varying_axes",
]
