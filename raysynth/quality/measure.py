"""A trial's synthetic-set measures: FAD against the real training split, overall and per class,
and the within-class diversity of both sets (``quality.measure``).

The synthetic set is what the trial trains on (after its quality filter); the real reference is
the full real training split of its fold, whatever the trial's ``real_fraction`` (the trial itself
never sees more real clips than its fraction). Validation and test clips are never embedded here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from raysynth.quality.fad import diversity, frechet_distance_of, per_class_fad


def embedder(context, fold: int | None) -> Callable[[np.ndarray], np.ndarray]:
    """The embedding function ``quality.embedding`` names, for waveforms at the context's rate."""
    quality, rate = context.quality, context.sample_rate
    if quality.embedding == "teacher":
        from raysynth.quality.teacher import Teacher

        return Teacher.load(context.teacher(fold)).embed
    if quality.embedding == "clap":
        from raysynth.quality.clap import ClapScorer

        clap = ClapScorer.build(quality.model_id, quality.tiny)
        return lambda waves: np.concatenate(
            [clap.audio_embeddings(waves[i : i + 64], rate).numpy() for i in range(0, len(waves), 64)]
        )
    if quality.embedding == "speech_embedding":
        # Mean and max of the frozen frames (192-d): flattened frames would give FAD a covariance of
        # 1,700 dimensions from a few hundred clips.
        from raysynth.audio import resample
        from raysynth.train.models.speech_embedding import SAMPLE_RATE, SpeechEmbedder

        frontend = SpeechEmbedder()

        def pooled(waves: np.ndarray) -> np.ndarray:
            waves = (
                np.stack([resample(w, rate, SAMPLE_RATE) for w in waves]) if rate != SAMPLE_RATE else waves
            )
            frames = frontend.frames(waves)
            return np.concatenate([frames.mean(axis=1), frames.max(axis=1)], axis=1)

        return pooled
    from raysynth.config import TrainConfig
    from raysynth.train.embeddings import embed_clips
    from raysynth.train.models import build_classifier

    config = TrainConfig(backbone=quality.embedding, tiny=quality.tiny, model_id=quality.model_id)
    model = build_classifier(config, 1, rate)
    return lambda waves: embed_clips(model, waves).numpy()


def measure_quality(config: dict[str, Any], context, mixture) -> dict[str, Any]:
    """FAD and diversity of the trial's synthetic training clips (``{}`` without ``quality.measure``
    or without synthetic clips).

    It runs on a fork of torch's random state: building the embedding model draws random
    weights, and a measure must not change the trial it measures.
    """
    quality = context.quality
    if not (quality.measure or quality.speakers) or mixture.num_synthetic == 0:
        return {}
    import torch

    with torch.random.fork_rng():
        reference = _real_reference(config, context)
        measures = (
            _measure(config, context, mixture, reference) if quality.measure and len(reference) >= 2 else {}
        )
        if quality.speakers:
            measures |= _speakers(config, context, mixture, reference)
        return measures


def _real_reference(config: dict[str, Any], context):
    """The real training split of the trial's fold (no test noise); empty for a test-only corpus or
    fold 0 (every clip a test clip), which have none."""
    from raysynth.datasets.sampling import EmptyClassError
    from raysynth.train.data import ClipSet, decode_rows, load_real, noise_sources, without_sources

    num_samples = int(round(context.sample_rate * context.clip_seconds))
    try:
        real = load_real(context.manifest, 1.0, int(config["seed"]), config.get("fold"))
    except EmptyClassError:
        return ClipSet(np.zeros((0, num_samples), np.float32), np.zeros(0, np.int64), [])
    train, _ = without_sources(real.train, noise_sources(context.noise_manifest)["test"])  # no test noise
    return decode_rows(train, num_samples, context.sample_rate, source=context.manifest)


def _speakers(config: dict[str, Any], context, mixture, reference) -> dict[str, Any]:
    """Speaker diversity (resemblyzer) of the synthetic training clips and of the real ones: the
    real training split, or, for a test-only corpus (no real training clip), the test recordings.
    A descriptive number: nothing is selected on it."""
    from raysynth.quality.speakers import speaker_diversity

    count, seed = context.quality.speaker_clips, int(config["seed"])
    synthetic = speaker_diversity(mixture.train.waves[mixture.num_real :], context.sample_rate, count, seed)
    real_source = "train" if len(reference) >= 2 else "test"
    real_waves = reference.waves if real_source == "train" else mixture.test.waves
    real = speaker_diversity(real_waves, context.sample_rate, count, seed) if len(real_waves) >= 2 else {}
    return {
        **synthetic,
        **{f"real_{key}": value for key, value in real.items()},
        "real_speaker_source": real_source if real else None,
    }


def _measure(config: dict[str, Any], context, mixture, reference) -> dict[str, Any]:
    synthetic_waves = mixture.train.waves[mixture.num_real :]
    synthetic_labels = mixture.train.labels[mixture.num_real :]
    embed = embedder(context, config.get("fold"))
    synthetic, real_embeddings = embed(synthetic_waves), embed(reference.waves)
    cosine = context.quality.duplicate_cosine
    synthetic_diversity = diversity(synthetic, synthetic_labels, cosine)
    real_diversity = diversity(real_embeddings, reference.labels, cosine)
    per_class = per_class_fad(synthetic, synthetic_labels, real_embeddings, reference.labels)
    return {
        "fad": frechet_distance_of(synthetic, real_embeddings),
        "fad_per_class": {mixture.class_names[i]: value for i, value in per_class.items()},
        "fad_embedding": context.quality.embedding,
        "diversity": synthetic_diversity["diversity"],
        "near_duplicates": synthetic_diversity["near_duplicates"],
        "real_diversity": real_diversity["diversity"],
        "real_near_duplicates": real_diversity["near_duplicates"],
    }
