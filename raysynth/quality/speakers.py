"""Speaker diversity of a set of speech clips, with a pretrained speaker encoder (resemblyzer).

Resemblyzer's ``VoiceEncoder`` (Apache-2.0; the GE2E encoder of Wan et al. 2018, its weights
inside the wheel, so it runs offline) maps an utterance to a unit 256-d voice vector. Over a set of
clips, two numbers say how many voices it holds:

- ``speaker_distance``: the mean pairwise cosine distance of their voice vectors (0: one voice);
- ``effective_voices``: the Vendi score (Friedman & Dieng, 2023) of the cosine-similarity
  matrix, the exponential of the entropy of its eigenvalues over n: n for n orthogonal voices,
  1 when every clip has the same voice. It counts distinct voices without choosing a clustering.

A set is sampled to at most ``max_clips`` clips (seeded) before encoding: the encoder costs about
25 ms a clip on one core, and both numbers are means over the set.
"""

from __future__ import annotations

import functools

import numpy as np

from raysynth.audio import resample

ENCODER_RATE = 16000


@functools.lru_cache(maxsize=1)
def _encoder():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources and scipy.ndimage.morphology deprecations
        from resemblyzer import VoiceEncoder

        return VoiceEncoder(device="cpu", verbose=False)


def voice_vectors(waves: np.ndarray, sample_rate: int) -> np.ndarray:
    """``[n, 256]`` unit voice vectors of ``waves`` (rows at ``sample_rate``).

    Each clip is resampled to 16 kHz (soxr, as everywhere here) and brought to the encoder's
    loudness with its long silences cut (resemblyzer's own ``normalize_volume`` and
    ``trim_long_silences``); a clip the voice detector finds empty is encoded whole.
    """
    from resemblyzer.audio import normalize_volume, trim_long_silences
    from resemblyzer.hparams import audio_norm_target_dBFS

    encoder = _encoder()
    vectors = []
    for wave in waves:
        wave = resample(np.asarray(wave, np.float32), sample_rate, ENCODER_RATE)
        wave = normalize_volume(wave, audio_norm_target_dBFS, increase_only=True)
        trimmed = trim_long_silences(wave)
        vectors.append(encoder.embed_utterance(trimmed if len(trimmed) >= ENCODER_RATE // 4 else wave))
    return np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 256), np.float32)


def vendi_score(vectors: np.ndarray) -> float:
    """exp(entropy) of the eigenvalues of K / n, with K the cosine-similarity matrix (Vendi score)."""
    x = np.asarray(vectors, np.float64)
    if len(x) == 0:
        return 0.0
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    eigenvalues = np.clip(np.linalg.eigvalsh(x @ x.T / len(x)), 0.0, None)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(eigenvalues * np.log(eigenvalues)).sum()))


def mean_cosine_distance(vectors: np.ndarray) -> float:
    """The mean of 1 - cos over all pairs of distinct rows (0 for fewer than 2 rows)."""
    x = np.asarray(vectors, np.float64)
    if len(x) < 2:
        return 0.0
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    upper = np.triu_indices(len(x), k=1)
    return float((1.0 - (x @ x.T)[upper]).mean())


def speaker_diversity(waves: np.ndarray, sample_rate: int, max_clips: int, seed: int) -> dict[str, float]:
    """``speaker_distance``, ``effective_voices`` and ``speaker_clips`` (how many were encoded)."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(waves), size=min(max_clips, len(waves)), replace=False))
    vectors = voice_vectors(np.asarray(waves)[picks], sample_rate)
    return {
        "speaker_distance": mean_cosine_distance(vectors),
        "effective_voices": vendi_score(vectors),
        "speaker_clips": int(len(picks)),
    }
