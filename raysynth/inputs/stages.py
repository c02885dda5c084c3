"""One ``check_*``/``ensure_*`` pair per input stage: the manifest, the noise manifest, the synthetic
shards, the generated noise, the quality stage (teachers, then scores) and the embedding cache.

``check_*`` reads what is on disk and lists what is missing (``--no-generate`` stops there);
``ensure_*`` builds what is missing. The stages run in that order: each needs the ones before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from raysynth import workspace
from raysynth.datasets import PrepareReport
from raysynth.datasets.prepare import prepare_planned
from raysynth.generate import GenerationSummary, existing_ids, run_generation
from raysynth.inputs.resolve import GenerationJob, Resolved
from raysynth.inputs.synthetic import plan_job
from raysynth.prompts.words import SILENCE, UNKNOWN
from raysynth.storage import Location

NON_WORDS = (UNKNOWN, SILENCE)


class MissingInputs(RuntimeError):
    """``--no-generate`` was given but the experiment needs data that is not there."""


@dataclass
class Inputs:
    """What the stages made or found."""

    reports: list[PrepareReport] = field(default_factory=list)
    generation: list[GenerationSummary] = field(default_factory=list)
    embeddings: Location | None = None


def check_manifest(r: Resolved) -> list[str]:
    if workspace.is_file(r.manifest.path):
        return []
    return [
        f"manifest {r.manifest.path} (run `python jobs/prepare.py {r.dataset}`, or the sweep without --no-generate)"
    ]


def ensure_manifest(r: Resolved) -> PrepareReport:
    return prepare_planned(r.manifest)


def check_noise_manifest(r: Resolved) -> list[str]:
    if r.noise_manifest is None or workspace.is_file(r.noise_manifest.path):
        return []
    return [f"noise manifest {r.noise_manifest.path} (from {r.noise_manifest.corpus_dir})"]


def ensure_noise_manifest(r: Resolved) -> PrepareReport | None:
    return prepare_planned(r.noise_manifest) if r.noise_manifest is not None else None


def _missing(jobs: tuple[GenerationJob, ...], manifest: Location) -> list[str]:
    if not workspace.is_file(manifest):
        return [f"{len(jobs)} generation job(s): their manifest {manifest} is missing"] if jobs else []
    missing = []
    for job in jobs:
        done = existing_ids(job.folder)
        count = sum(row["id"] not in done for row in plan_job(job, manifest))
        if count:
            missing.append(f"{count} clips of {job.describe()} in {job.folder}")
    return missing


def _generate(r: Resolved, jobs: tuple[GenerationJob, ...], manifest: Location) -> list[GenerationSummary]:
    return [
        run_generation(
            plan_job(job, manifest), job.folder, job.config, r.sample_rate, job.recipe, r.spec_hash
        )
        for job in jobs
    ]


def check_synthetic(r: Resolved) -> list[str]:
    return _missing(r.generation, r.manifest.path)


def ensure_synthetic(r: Resolved) -> list[GenerationSummary]:
    return _generate(r, r.generation, r.manifest.path)


def check_synthetic_noise(r: Resolved) -> list[str]:
    return _missing(r.synthetic_noise, r.noise_manifest.path) if r.noise_manifest else []


def ensure_synthetic_noise(r: Resolved) -> list[GenerationSummary]:
    return _generate(r, r.synthetic_noise, r.noise_manifest.path) if r.noise_manifest else []


def check_quality_models(r: Resolved) -> None:
    """The CLAP model of a clap filter can be had (cached, a local folder, or the hub reachable):
    checked on the driver before Ray starts, since a scoring actor would fail on it."""
    from raysynth.quality.clap import DEFAULT_CLAP, check_reachable

    for model_id in sorted(
        {j.clap_model_id or DEFAULT_CLAP for j in r.score_jobs if j.kind == "clap" and not j.tiny}
    ):
        check_reachable(model_id, "quality.clap_model_id")


def check_quality(r: Resolved) -> list[str]:
    from raysynth.quality.scoring import missing_scores
    from raysynth.quality.teacher import check_teacher

    missing = [f"teacher {t.path} (fold {t.fold})" for t in r.teachers if not check_teacher(t)]
    for job in r.score_jobs:
        count = missing_scores(job)
        if count:
            missing.append(f"{count} {job.describe()} in {job.folder}")
    return missing


def ensure_quality(r: Resolved, say: Callable[[str], None]) -> None:
    """Train the missing teachers (one Ray task per fold, in parallel), then score the clips that
    have no score yet (a Ray Data pass per recipe and scorer)."""
    import ray

    from raysynth.datasets import read_manifest
    from raysynth.quality.scoring import run_scoring
    from raysynth.quality.teacher import check_teacher, train_teacher

    todo = [t for t in r.teachers if not check_teacher(t)]
    train = ray.remote(num_cpus=r.resources.cpus_per_trial)(train_teacher)
    for plan, summary in zip(todo, ray.get([train.remote(t) for t in todo]) if todo else [], strict=True):
        say(f"quality: teacher (fold {plan.fold}) trained on {summary['clips']} real training clips, "
            f"{summary['epochs']} epochs, training accuracy {summary['train_acc']:.3f}, "
            f"{summary['seconds']:.0f}s -> {plan.path}")  # fmt: skip
    if any(job.kind in ("clap", "asr") for job in r.score_jobs):
        table = read_manifest(r.manifest.path, columns=["label_id", "label", "label_text"]).to_pylist()
        texts = dict(sorted({(row["label_id"], row["label_text"]) for row in table}))
        labels = {row["label_id"]: row["label"] for row in table}
    for job in r.score_jobs:
        if job.kind == "clap":
            job = replace(job, prompts=tuple(job.template.format(label=texts[i]) for i in sorted(texts)))
        if job.kind == "asr":  # the task's words: every class's text, the non-word classes left out
            words = [job.template.format(label=texts[i]) for i in sorted(texts) if labels[i] not in NON_WORDS]
            job = replace(job, prompts=tuple(words))
        start = time.perf_counter()
        count = run_scoring(job, r.quality.concurrency, r.quality.batch_size, r.quality.num_gpus)
        if count:
            say(f"quality: scored {count} clip(s), {job.describe()}, {time.perf_counter() - start:.0f}s "
                f"-> {job.folder}")  # fmt: skip


def embeddings_dir(r: Resolved) -> Location:
    from raysynth.train.embeddings import cache_dir

    noise = f"{r.noise_manifest.path}|{r.noise.test_snrs}" if r.noise_manifest else ""
    return cache_dir(r.work_dir, r.dataset, r.train, r.clip_seconds, noise)


def check_embeddings(r: Resolved) -> list[str]:
    if not r.linear_probe:
        return []
    from raysynth.train.embeddings import missing_embeddings

    count = missing_embeddings(r.manifest.path, [job.folder for job in r.generation], embeddings_dir(r))
    return [f"{count} embeddings in {embeddings_dir(r)}"] if count else []


def ensure_embeddings(r: Resolved) -> Location | None:
    """The linear-probe embedding cache of the experiment's backbone, filled by a Ray Data job."""
    if not r.linear_probe:
        return None
    from raysynth.train.embeddings import run_embedding_cache

    out = embeddings_dir(r)
    run_embedding_cache(
        r.manifest.path, [job.folder for job in r.generation], out, r.train, r.sample_rate, r.clip_seconds,
        r.noise, r.noise_manifest.path if r.noise_manifest else None,
        num_gpus=1.0 if r.resources.gpus_per_trial > 0 else 0.0,
    )  # fmt: skip
    return out


def check(r: Resolved) -> list[str]:
    """Everything the experiment needs that is not on disk."""
    return [
        *check_manifest(r), *check_noise_manifest(r), *check_synthetic(r), *check_synthetic_noise(r),
        *check_quality(r), *(check_embeddings(r) if workspace.is_file(r.manifest.path) else []),
    ]  # fmt: skip


def ensure(r: Resolved, generate: bool = True, say: Callable[[str], None] | None = None) -> Inputs:
    """Build every missing input, in stage order; with ``generate=False`` only check and list what is
    missing. ``say`` gets one line per stage as it ends (the jobs print them)."""
    say = say or (lambda line: None)
    if not generate:
        missing = check(r)
        if missing:
            raise MissingInputs("--no-generate, but the experiment needs:\n  - " + "\n  - ".join(missing))
        return Inputs(embeddings=embeddings_dir(r) if r.linear_probe else None)
    inputs = Inputs(reports=[ensure_manifest(r)])
    say(inputs.reports[0].line())
    noise_report = ensure_noise_manifest(r)
    if noise_report is not None:
        inputs.reports.append(noise_report)
        say(noise_report.line())
    for summary in ensure_synthetic(r) + ensure_synthetic_noise(r):
        inputs.generation.append(summary)
        say(str(summary))
    ensure_quality(r, say)
    inputs.embeddings = ensure_embeddings(r)
    return inputs
