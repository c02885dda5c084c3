"""Fréchet audio distance between two embedding sets, and the diversity of one set.

The Fréchet distance between Gaussians N(mu1, S1) and N(mu2, S2) is

    |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^(1/2) S2 S1^(1/2))^(1/2)).

The trace term is computed from the eigenvalues of the symmetric matrix S1^(1/2) S2 S1^(1/2), which
are real and non-negative (clipped at 0 against round-off), instead of ``scipy.linalg.sqrtm(S1 @ S2)``
of a non-symmetric product, which goes complex or loses precision on rank-deficient covariances
(fewer clips than embedding dimensions, as per class sets usually are).

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(500, 8))
>>> round(frechet_distance_of(x, x), 6)
0.0
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Raises:
        ValueError: the means or covariances do not have matching shapes.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"means of shape ({d},) and covariances of shape ({d}, {d}) are expected, but got "
            f"{mu1.shape}, {mu2.shape}, {sigma1.shape}, {sigma2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_term = float(np.sqrt(np.clip(inner, 0.0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_term)
    return max(value, 0.0)


def gaussian_stats(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of the rows of ``embeddings`` (at least 2 rows)."""
    x = np.asarray(embeddings, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"at least 2 embeddings of shape [n, d] are needed, but got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance_of(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between the Gaussians fitted to two embedding sets."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def per_class_fad(
    a: np.ndarray, labels_a: np.ndarray, b: np.ndarray, labels_b: np.ndarray
) -> dict[int, float]:
    """The Fréchet distance per label id present in both sets with at least 2 clips each."""
    out = {}
    for label in sorted(set(labels_a.tolist()) & set(labels_b.tolist())):
        x, y = a[labels_a == label], b[labels_b == label]
        if len(x) >= 2 and len(y) >= 2:
            out[int(label)] = frechet_distance_of(x, y)
    return out


def mean_pairwise_distance(embeddings: np.ndarray) -> float:
    """The mean Euclidean distance over all pairs of distinct rows (0 for fewer than 2 rows)."""
    x = np.asarray(embeddings, np.float64)
    if len(x) < 2:
        return 0.0
    squared = (x * x).sum(axis=1)
    gram = np.clip(squared[:, None] + squared[None, :] - 2.0 * x @ x.T, 0.0, None)
    upper = np.triu_indices(len(x), k=1)
    return float(np.sqrt(gram[upper]).mean())


def near_duplicates(embeddings: np.ndarray, cosine: float = 0.995) -> int:
    """How many rows have another row at cosine similarity >= ``cosine`` (each such row counted once)."""
    x = np.asarray(embeddings, np.float64)
    if len(x) < 2:
        return 0
    unit = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return int((similarity.max(axis=1) >= cosine).sum())


def diversity(embeddings: np.ndarray, labels: np.ndarray, cosine: float = 0.995) -> dict[str, float]:
    """Within-class diversity: the mean pairwise distance averaged over classes, and near-duplicates."""
    classes = sorted(set(np.asarray(labels).tolist()))
    distances = [mean_pairwise_distance(embeddings[labels == c]) for c in classes]
    duplicates = sum(near_duplicates(embeddings[labels == c], cosine) for c in classes)
    return {"diversity": float(np.mean(distances)) if distances else 0.0, "near_duplicates": int(duplicates)}
