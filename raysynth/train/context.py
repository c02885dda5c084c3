"""The contract between the sweep and a trial: what every trial of an experiment shares.

The inputs room resolves the spec into these plain values once; a trial's own axis values come in
its config (``real_fraction``, ``synth_multiplier``, ``strategy``, ``generator``, ``variant``,
``seed``, ``fold``, ``noise_source``, ``train_snr_db``, ``quality_filter``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from raysynth.config import NoiseConfig, QualityConfig, TrainConfig


@dataclass(frozen=True)
class SyntheticSource:
    """The shards of one generation recipe, and the axis values that select them."""

    folder: str  # a folder or an s3:// prefix
    recipe: str  # the recipe hash every clip of the folder carries
    generator: str
    strategy: str
    variant: str | None = None
    silence: tuple[
        str, ...
    ] = ()  # classes a speech backend never says: their clips are noise, made in the trial


@dataclass(frozen=True)
class ScoreTable:
    """A side table of quality scores: one recipe's clips scored by one scorer."""

    recipe: str
    kind: str  # clap or teacher
    fold: int | None  # teacher tables: the test fold its teacher was trained for
    folder: str
    subset: tuple[float, int] = (1.0, 0)  # teacher tables: (real_fraction, seed) its teacher trained on


@dataclass(frozen=True)
class TrialContext:
    """Paths and settings shared by every trial (the axes come in the trial config).

    Attributes:
        manifest: the real manifest.
        sample_rate, clip_seconds: the rate and length every clip is brought to.
        train: training settings.
        noise: noise augmentation and noisy evaluation settings.
        synthetic: the synthetic shards, one per (generator, strategy, variant).
        noise_manifest: real noise, split train/test by recording (``None``: no noise).
        synthetic_noise: generated noise shards, one per (generator, variant); strategy ``label``.
        embeddings: cached embeddings for ``linear_probe``.
        generation_seed: the seed synthetic clips are drawn from.
        draw_per_seed: whether each trial seed draws its own synthetic clips.
        quality: scoring and measuring settings (``quality.measure``: FAD and diversity per trial).
        scores: the quality score tables the trials' filters read.
        teachers: (test fold, checkpoint) of each trained teacher.
        features: where a frozen backbone's features and augmented views are cached
            (``<work_dir>/features``; ``None``: computed in each trial, not kept).
        round2, confusion_share: the round-2 trials' counts per class, given out after round 1
            (:mod:`raysynth.train.rounds`), and the part of their clips those replace.
    """

    manifest: str
    sample_rate: int
    clip_seconds: float
    train: TrainConfig
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    synthetic: tuple[SyntheticSource, ...] = ()
    noise_manifest: str | None = None
    synthetic_noise: tuple[SyntheticSource, ...] = ()
    embeddings: str | None = None
    generation_seed: int = 0
    draw_per_seed: bool = True
    quality: QualityConfig = field(default_factory=QualityConfig)
    scores: tuple[ScoreTable, ...] = ()
    teachers: tuple[tuple[int | None, str], ...] = ()
    features: str | None = None
    round2: tuple[tuple[str, str], ...] = ()  # (cell_key, JSON counts per class) of each round-2 trial
    confusion_share: float = 0.5  # confusion.share: the part of a round-2 trial's clips from round 2

    def round2_counts(self, config: dict[str, Any]) -> dict[str, int]:
        """A round-2 trial's clips per class from round 2, as the sweep gave them out (sweep.rounds)."""
        from raysynth.train.rounds import cell_key

        found = dict(self.round2).get(cell_key(config))
        if found is None:
            raise ValueError(f"no round-2 counts for the trial {cell_key(config)}: its round 1 has not run")
        return json.loads(found)

    def draw(self, config: dict[str, Any]) -> int:
        """The draw seed of the trial's synthetic clips."""
        from raysynth.generate.plan import draw_seed

        return draw_seed(self.generation_seed, int(config["seed"]), self.draw_per_seed)

    def synthetic_source(self, config: dict[str, Any]) -> SyntheticSource:
        """The trial's synthetic shards: its generator, strategy and variant (where the grid has them)."""
        return _pick(self.synthetic, config, ("generator", "strategy", "variant"), "synthetic shards")

    def synthetic_sources(self, config: dict[str, Any]) -> list[SyntheticSource]:
        """The trial's synthetic shards, one per engine: a merged generator (``tts+piper``) has several."""
        from raysynth.generators.base import engines_of

        generator = config.get("generator")
        engines = engines_of(generator) if generator else [None]
        return [self.synthetic_source({**config, "generator": engine}) for engine in engines]

    def score_table(
        self, recipe: str, kind: str, fold: int | None, subset: tuple[float, int] = (1.0, 0)
    ) -> ScoreTable:
        """The score table of ``recipe`` by scorer ``kind`` (a teacher's: the one of ``fold`` trained on
        the real ``subset``, (real_fraction, seed))."""
        found = [s for s in self.scores if s.recipe == recipe and s.kind == kind
                 and (kind != "teacher" or (s.fold, tuple(s.subset)) == (fold, tuple(subset)))]  # fmt: skip
        if len(found) != 1:
            raise ValueError(
                f"{len(found)} {kind} score tables for recipe {recipe}, fold {fold}, real subset {subset}; "
                f"expected one"
            )
        return found[0]

    def teacher(self, fold: int | None) -> str:
        """The checkpoint of the teacher trained for test fold ``fold``."""
        for teacher_fold, path in self.teachers:
            if teacher_fold == fold:
                return path
        raise ValueError(f"no teacher for fold {fold}; the experiment has {[f for f, _ in self.teachers]}")

    def noise_source(self, config: dict[str, Any]) -> SyntheticSource:
        """The trial's generated noise: its generator and variant."""
        return _pick(self.synthetic_noise, config, ("generator", "variant"), "synthetic noise shards")


def _pick(sources: tuple[SyntheticSource, ...], config: dict[str, Any], keys: tuple[str, ...], what: str):
    """The one source whose values match the config's (a key the config leaves unset matches any)."""
    matches = [s for s in sources if all(config.get(k) in (None, getattr(s, k)) for k in keys)]
    if len(matches) != 1:
        wanted = {k: config.get(k) for k in keys}
        have = [{k: getattr(s, k) for k in keys} for s in sources]
        raise ValueError(
            f"{what}: {len(matches)} match {wanted}, expected exactly one; the experiment has {have}"
        )
    return matches[0]
