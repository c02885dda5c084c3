"""Test-only factories: data made in code so each test builds exactly what it needs.

Nothing here is a real corpus or a real model. The smoke preset uses the ``toy`` dataset
made by :func:`make_toy_corpus`, clearly marked as test-only.
"""

from raysynth.testing.dummies import (
    TOY_LABELS,
    dummy_clip,
    dummy_manifest,
    dummy_shard,
    make_toy_corpus,
    make_toy_noise,
)

__all__ = ["TOY_LABELS", "dummy_clip", "dummy_manifest", "dummy_shard", "make_toy_corpus", "make_toy_noise"]
