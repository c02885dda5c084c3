"""Synthetic-data quality: clip scores (CLAP, teacher), filters over them, and set-level measures
(Fréchet audio distance, diversity).

- :mod:`raysynth.quality.filters`: ``grid.quality_filter`` values, the candidate pools they need, and
  the per-class selection the mixture sampler applies.
- :mod:`raysynth.quality.fad`: the Fréchet distance between embedding sets, and diversity.
- :mod:`raysynth.quality.teacher`: a classifier trained on the real training split only.
- :mod:`raysynth.quality.clap`: CLAP text-audio similarity (transformers ``ClapModel``).
- :mod:`raysynth.quality.scoring`: the Ray Data pass that scores shards into side tables.
- :mod:`raysynth.quality.measure`: a trial's FAD and diversity against the real training split.

The submodules are imported where they are used; this package imports none of them.
"""
