"""The spec, resolved once into plain values: where every input is, and what makes it.

:func:`resolve` reads the spec and nothing else does: the stages, the trials and the sweep receive
the :class:`Resolved` experiment (paths, recipes, counts, seeds). Every check that needs no data
(an unknown dataset or generator, settings a backend ignores, a prompt template a backend cannot
say) fails here, before Ray starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysynth import workspace
from raysynth.audio import RESAMPLER
from raysynth.config import (
    ExperimentSpec,
    GenerationConfig,
    NoiseConfig,
    QualityConfig,
    ResourcesConfig,
    TrainConfig,
)
from raysynth.datasets import DatasetError, DatasetRecipe, ManifestPlan, get_recipe, plan_manifest
from raysynth.generate.plan import draw_seed, recipe_hash, shard_dir
from raysynth.generators import (
    BACKENDS,
    check_generation,
    engines_of,
    generation_recipe,
)
from raysynth.inputs.cells import trial_cells
from raysynth.inputs.checks import InputError, check_generators, prompt_template
from raysynth.inputs.quality import candidate_pools, plan_quality
from raysynth.prompts.words import COMMON_WORDS_ID, SILENCE
from raysynth.quality.scoring import ScoreJob
from raysynth.quality.teacher import TeacherPlan
from raysynth.schemas import SCHEMA_VERSION, file_id
from raysynth.storage import Location, is_remote, join

NOISE_TEMPLATE = "{label} noise"


@dataclass(frozen=True)
class GenerationJob:
    """One recipe's synthetic clips: for a (generator, strategy, variant), or generated noise.

    Attributes:
        config: the effective generation config of the generator and variant.
        recipe: what changes the audio (:func:`raysynth.generators.generation_recipe`, plus the
            dataset's rate and clip length) and how the prompts are made (strategy, template, the
            description file's content); its hash names the clips and their folder.
        folder: the recipe's shard folder.
        template: the label-guided prompt template (for tts: the words to say).
        descriptions: the LLM description file (strategy ``llm``).
        train_multiplier: clips per class = this x the class's real training clips (the largest
            multiplier of the grid); 0 for noise.
        per_class: a fixed count per class instead (generated noise: clips per training recording).
        draws: the draw seeds to generate (one per trial seed, or one shared).
        valid_per_class: zero-shot validation clips per class, generated on top (0: none).
        noise: plan from the noise manifest's training recordings instead of the dataset's classes.
        pools: the (synth_multiplier, quality_filter) pairs of its cells; the plan makes the largest pool.
        oversample: candidates per kept clip of a threshold filter (``quality.oversample``).
        unknown_words, silence: a speech job's non-word classes (:mod:`raysynth.prompts.words`).
    """

    generator: str
    strategy: str
    variant: str | None
    config: GenerationConfig
    recipe: dict[str, Any]
    folder: Location
    template: str | None
    descriptions: Path | None
    llm_k: int
    train_multiplier: float
    per_class: int
    draws: tuple[int, ...]
    valid_per_class: int
    noise: bool = False
    pools: tuple[tuple[float, str | None], ...] = ()
    oversample: float = 2.0
    unknown_words: tuple[str, ...] = ()  # the dataset's own non-keywords, for a speech job's _unknown_ class
    silence: tuple[str, ...] = ()  # the classes a speech job never says (their clips are made in the trial)

    @property
    def recipe_hash(self) -> str:
        return recipe_hash(self.recipe)

    def describe(self) -> str:
        what = "noise" if self.noise else f"{self.strategy}"
        variant = f", variant {self.variant}" if self.variant else ""
        return f"{self.generator} {what}{variant} (recipe {self.recipe_hash})"


@dataclass(frozen=True)
class Resolved:
    """An experiment in plain values."""

    name: str
    spec_hash: str
    spec: dict[str, Any]  # the spec as JSON, recorded with the results
    work_dir: (
        Location  # a folder, or an object store URI (then every artifact goes through raysynth.workspace)
    )
    store: Location
    sample_rate: int
    clip_seconds: float
    manifest: ManifestPlan
    noise_manifest: ManifestPlan | None
    train: TrainConfig
    noise: NoiseConfig
    resources: ResourcesConfig
    generation: tuple[GenerationJob, ...] = ()
    synthetic_noise: tuple[GenerationJob, ...] = ()
    cells: tuple[dict[str, Any], ...] = ()
    generation_seed: int = 0
    draw_per_seed: bool = True
    linear_probe: bool = False
    quality: QualityConfig = field(default_factory=QualityConfig)
    teachers: tuple[TeacherPlan, ...] = ()
    score_jobs: tuple[ScoreJob, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.manifest.recipe.name


def resolve(
    spec: ExperimentSpec, data_root: Path | None, work_dir: Location, store: Location | None = None
) -> Resolved:
    """Resolve ``spec`` into plain values; raises the project's input errors, before any work starts."""
    work_dir = workspace.as_location(work_dir)
    store = store if store is not None else join(work_dir, "synthetic")
    try:
        recipe = get_recipe(spec.dataset.name)
    except DatasetError as error:
        raise DatasetError(f"{spec._source}: dataset.name: {error}") from None
    manifest = plan_manifest(spec.dataset.name, data_root, work_dir, spec.dataset.sample_rate)
    noise_manifest = _noise_manifest(spec, manifest, work_dir, data_root)
    cells = trial_cells(spec)
    check_generators(spec)
    jobs = tuple(_with_model_cache(job, work_dir) for job in _synthetic_jobs(spec, recipe, store, cells))
    noise_jobs = _noise_jobs(spec, noise_manifest, store, cells) if noise_manifest else ()
    teachers, score_jobs = plan_quality(spec, recipe, manifest.path, work_dir, jobs, cells, noise_manifest and noise_manifest.path)  # fmt: skip
    return Resolved(
        name=spec.name, spec_hash=spec.spec_hash(), spec=spec.model_dump(mode="json"), work_dir=work_dir,
        store=store, sample_rate=spec.dataset.sample_rate, clip_seconds=spec.dataset.clip_seconds,
        manifest=manifest, noise_manifest=noise_manifest, train=spec.train, noise=spec.noise,
        resources=spec.resources, generation=jobs, synthetic_noise=noise_jobs, cells=tuple(cells),
        generation_seed=spec.generation.seed, draw_per_seed=spec.generation.draw_per_seed,
        linear_probe=spec.train.mode == "linear_probe", quality=spec.quality, teachers=teachers, score_jobs=score_jobs,
    )  # fmt: skip


def _noise_manifest(
    spec: ExperimentSpec, manifest: ManifestPlan, work_dir: Location, data_root: Path | None = None
) -> ManifestPlan | None:
    if spec.noise.directory is None:
        return None
    directory = Path(spec.noise.directory).expanduser()
    if not directory.is_absolute():
        # The data root first (real noise next to a test-only dataset), then the dataset's own
        # root (for a test-only set, the work dir's corpora, where its toy noise is built).
        roots = [r for r in (data_root, manifest.data_root) if r is not None]
        if not roots:
            raise InputError(
                f"noise.directory '{directory}' is relative, but there is no data root to resolve it against"
            )
        found = [root / directory for root in roots if (root / directory).is_dir()]
        directory = found[0] if found else roots[-1 if manifest.recipe.test_only else 0] / directory
    if not directory.is_dir() and not manifest.recipe.test_only:
        raise InputError(f"noise.directory {directory} does not exist")
    return plan_manifest(
        f"noise:{directory}", None, work_dir, spec.dataset.sample_rate,
        test_files=spec.noise.test_files, segment_seconds=spec.noise.segment_seconds,
    )  # fmt: skip


def _draws(spec: ExperimentSpec) -> tuple[int, ...]:
    generation = spec.generation
    return tuple(sorted({draw_seed(generation.seed, s, generation.draw_per_seed) for s in spec.grid.seed}))


def _job(
    spec, generator, strategy, variant, store, dataset, template, descriptions, **fields
) -> GenerationJob:
    config = check_generation(spec.generation.for_generator(generator, variant))
    speech = BACKENDS[generator].speech and not fields.get("noise")
    words = spec.generation.words or {}
    said = {}
    if speech and (words or spec.generation.unknown_exclude or fields.get("unknown_words")):
        # What the non-word classes say changes the prompts: clips of other words never mix in.
        said = {"speech_words": {"words": words, "unknown_exclude": sorted(spec.generation.unknown_exclude),
                                 "unknown_words": list(fields.get("unknown_words", ())), "common": COMMON_WORDS_ID}}  # fmt: skip
    if speech and SILENCE not in words:
        fields["silence"] = (SILENCE,)
    recipe = {
        **generation_recipe(config),
        "sample_rate": spec.dataset.sample_rate,
        "resampler": RESAMPLER,
        "schema": SCHEMA_VERSION,
        "clip_seconds": spec.dataset.clip_seconds,
        # How the prompts are made: clips of another template or description file never mix in.
        "strategy": strategy,
        "prompt_template": template,
        **(
            {"descriptions": file_id(workspace.fetch(descriptions)), "llm_k": spec.generation.llm_k}
            if descriptions
            else {}
        ),
        **said,
    }
    folder = shard_dir(store, dataset, generator, strategy, recipe_hash(recipe))
    return GenerationJob(
        generator=generator, strategy=strategy, variant=variant, config=config, recipe=recipe, folder=folder,
        template=template, descriptions=descriptions, llm_k=spec.generation.llm_k, draws=_draws(spec), **fields,
    )  # fmt: skip


def _with_model_cache(job: GenerationJob, work_dir: Location) -> GenerationJob:
    """A backend that assembles its model into a folder (kokoro) gets ``<work_dir>/models`` unless the spec
    names one (an execution key: it never changes the clips); with a work dir on an object store, each
    node assembles it into its own cache (it is made from installed packages, never downloaded)."""
    from dataclasses import replace

    from raysynth.workspace import CACHE_MODELS

    if "model_cache" not in BACKENDS[job.generator].execution or job.config.model_cache is not None:
        return job
    folder = CACHE_MODELS if is_remote(work_dir) else str(Path(work_dir) / "models")
    return replace(job, config=job.config.model_copy(update={"model_cache": folder}))


def _synthetic_jobs(
    spec: ExperimentSpec, recipe: DatasetRecipe, store: Location, cells
) -> tuple[GenerationJob, ...]:
    used = sorted(
        {(engine, c["strategy"], c["variant"]) for c in cells if c["synth_multiplier"] > 0
         for engine in engines_of(c["generator"])},
        key=lambda k: tuple(str(v) for v in k),
    )  # fmt: skip
    if not used:
        return ()
    multiplier = max(c["synth_multiplier"] for c in cells)
    pools = candidate_pools(cells)
    zero_shot = any(c["real_fraction"] == 0 and c["synth_multiplier"] > 0 for c in cells)
    jobs = []
    for generator, strategy, variant in used:
        descriptions = None
        if strategy == "llm":
            from raysynth.prompts.llm import shipped_descriptions

            shipped = shipped_descriptions(recipe.name)
            if not shipped.is_file():  # a variant of a corpus (fsdd_speakers) shares its corpus's labels
                shipped = shipped_descriptions(recipe.corpus_name)
            descriptions = workspace.as_location(spec.generation.descriptions or shipped)
            if not workspace.is_file(descriptions):
                from raysynth.prompts.llm import DescriptionError

                raise DescriptionError(
                    f"description file {descriptions} does not exist; make one with `python jobs/describe.py`"
                )
        jobs.append(
            _job(spec, generator, strategy, variant, store, recipe.name,
                 prompt_template(spec, recipe, generator, strategy), descriptions=descriptions,
                 train_multiplier=multiplier, per_class=0,
                 valid_per_class=spec.train.synthetic_valid_per_class if zero_shot else 0,
                 pools=pools[(generator, strategy, variant)], oversample=spec.quality.oversample,
                 unknown_words=recipe.unknown_words if BACKENDS[generator].speech else ())
        )  # fmt: skip
    return tuple(jobs)


def _noise_jobs(
    spec: ExperimentSpec, noise: ManifestPlan, store: Location, cells
) -> tuple[GenerationJob, ...]:
    used = sorted(
        {(c["generator"], c["variant"]) for c in cells if c["noise_source"] == "synthetic"}, key=str
    )
    jobs = []
    for generator, variant in used:
        if len(engines_of(generator)) > 1:
            raise InputError(
                f"noise_source synthetic with the merged generator {generator}: generated noise comes from one "
                f"backend; use noise_source real, or a single sound generator"
            )
        if BACKENDS[generator].speech:
            raise InputError(
                f"noise_source synthetic generates noise from the recordings' names; {generator} says words, "
                f"it cannot make noise: use a sound generator for it"
            )
        jobs.append(
            _job(spec, generator, "label", variant, store, noise.recipe.name, NOISE_TEMPLATE, descriptions=None,
                 train_multiplier=0, per_class=spec.noise.synthetic_clips_per_recording, valid_per_class=0,
                 noise=True)
        )  # fmt: skip
    return tuple(jobs)
