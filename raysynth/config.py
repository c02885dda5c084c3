"""Typed experiment spec: a YAML file in ``search_spaces/`` loads into :class:`ExperimentSpec`.

Every key is checked. An unknown key, a wrong type or an out-of-range value raises
:class:`SpecError` naming the file, the key, what was expected and what was given.

>>> spec = load_spec("search_spaces/smoke.yaml")  # doctest: +SKIP
>>> spec.grid.real_fraction  # doctest: +SKIP
[0.5, 1.0]
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import typing
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from raysynth import storage

DATA_ENV = "RAYSYNTH_DATA"
WORK_ENV = "RAYSYNTH_WORK"
DEFAULT_WORK_DIR = "raysynth_work"
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"  # one folder name (and never '.' or '..': checked beside it)
MAX_TRIALS = 10_000  # grid cells a spec may make unless it raises resources.max_trials


class SpecError(ValueError):
    """A spec file that cannot be used, with every problem spelled out."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathsConfig(_Strict):
    """Where data lives. ``None`` means: take it from the CLI or the environment."""

    data_root: str | None = Field(None, description="corpora in their official layouts")
    work_dir: str | None = Field(None, description="prepared manifests and synthetic shards")
    storage_path: str | None = Field(None, description="Ray Tune results (default <work_dir>/ray_results)")
    shard_store: str | None = Field(
        None, description="synthetic shards: a folder or s3://bucket/prefix (default <work_dir>/synthetic)"
    )


class DatasetConfig(_Strict):
    name: str
    sample_rate: int = Field(16000, ge=4000, le=96000)
    clip_seconds: float = Field(1.0, gt=0, le=60)


Range = tuple[float, float]


class _Backend(_Strict):
    """Settings a backend reads, where a spec may set them for one backend only (None: not set here)."""

    model_id: str | None = Field(None, description="hub id or local path; None: the backend's default")
    tiny: bool | None = Field(None, description="random-weight toy model built offline (tests, --smoke-test)")
    batch_size: int | None = Field(None, ge=1, le=4096, description="None: the backend's default")
    top_k: int | None = Field(None, ge=1, description="language-model backends: top-k sampling (250)")
    guidance: float | None = Field(None, ge=0, description="classifier-free guidance; None: the backend's")
    steps: int | None = Field(None, ge=1, description="diffusion backends: denoising steps")
    scheduler: str | None = Field(None, description="diffusion backends: dpm (DPM-Solver++) or ddim")
    dtype: Literal["fp32", "fp16", "bf16"] | None = Field(None, description="weights and activations (fp32)")
    negative_prompt: str | None = Field(None, description="diffusion backends: what to steer away from")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per actor; None: the backend's (tts: 0)")
    concurrency: int | None = Field(None, ge=1, description="actors; None: one per GPU, or per CPU")
    runtime_env: dict[str, Any] | None = Field(
        None, description="Ray runtime_env for the generator actors (e.g. pip pins of a conflicting backend)"
    )
    fast_decode: bool | None = Field(
        None, description="language-model backends: static-cache decoding loop (same tokens; default true)"
    )
    compile: bool | None = Field(None, description="torch.compile the decode step / denoiser on CUDA")
    # tts (eSpeak NG): the ranges each clip's values are drawn from, seeded per clip.
    voices: list[str] | None = Field(
        None,
        description="tts: eSpeak NG languages/accents (default: English); flite: its voices (default: all four); kokoro: the styles it blends (default: all five)",
    )
    voice_variants: list[str] | None = Field(
        None, description="tts: eSpeak NG voice variants ('' is the plain voice; default: all)"
    )
    rate_wpm: Range | None = Field(None, description="tts: speaking rate, words per minute")
    pitch: Range | None = Field(None, description="tts: base pitch, 0-99")
    pitch_range: Range | None = Field(None, description="tts: pitch range (intonation), 0-99")
    word_gap: Range | None = Field(None, description="tts: pause between words, units of 10 ms")
    amplitude: Range | None = Field(None, description="tts: loudness, 0-200")
    placement: Literal["random", "start", "center"] | None = Field(
        None, description="speech backends: where the speech sits in the clip"
    )
    # piper (a VITS voice): the ranges each clip's values are drawn from, seeded per clip.
    length_scale: Range | None = Field(None, description="piper: phoneme durations (above 1: slower)")
    noise_scale: Range | None = Field(None, description="piper: the prior's noise (variation of the voice)")
    noise_w: Range | None = Field(None, description="piper: the duration predictor's noise (rhythm)")
    # flite: each clip's voice (``voices``) and values, drawn from these ranges, seeded per clip.
    duration_stretch: Range | None = Field(None, description="flite: phone durations (above 1: slower)")
    f0_scale: Range | None = Field(None, description="flite: intonation mean, a factor of the voice's own")
    f0_stddev: Range | None = Field(None, description="flite: intonation spread, Hz")
    # kokoro: the speed range each clip draws from (its voice is a seeded blend of its styles, ``voices``).
    speed: Range | None = Field(None, description="kokoro: speaking speed (above 1: faster)")
    model_cache: str | None = Field(
        None, description="kokoro: folder its model is assembled into (default <work_dir>/models)"
    )
    truncation: Literal["faster", "redraw", "keep"] | None = Field(
        None, description="speech backends: speech longer than the clip is said faster (default), drawn "
        "again with a new seed, or kept cut; counted per clip (params cut_s) either way",
    )  # fmt: skip

    @field_validator("rate_wpm", "pitch", "pitch_range", "word_gap", "amplitude", "length_scale", "noise_scale",
                     "noise_w", "duration_stretch", "f0_scale", "f0_stddev", "speed")  # fmt: skip
    @classmethod
    def _low_high(cls, value: Range | None) -> Range | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"a range has to be (low, high) with low <= high, but is {list(value)}")
        return value


class GeneratorOverrides(_Backend):
    """Per-backend values under ``generation.per_generator.<name>`` (and a variant's values)."""


BACKEND_KEYS = tuple(_Backend.model_fields)


class GenerationConfig(_Backend):
    """How synthetic clips are made. Backend settings left unset take the backend's defaults."""

    generator: str = "audiogen"
    tiny: bool = Field(False, description="random-weight toy model built offline (tests, --smoke-test)")
    duration_s: float = Field(1.0, gt=0, le=60)
    prompt_template: str | None = Field(None, description="None: the dataset's own template")
    descriptions: str | None = Field(
        None, description="llm strategy: description file; None: the shipped one"
    )
    llm_k: int = Field(3, ge=1, description="llm strategy: descriptions sampled into each prompt")
    seed: int = Field(0, description="generation seed; each trial seed draws its own clips from it")
    draw_per_seed: bool = Field(
        True, description="each grid.seed draws its own synthetic clips (False: one draw shared by all seeds)"
    )
    max_regenerations: int = Field(2, ge=0, description="new seeds tried for a NaN, silent or clipped clip")
    words: dict[str, list[str]] | None = Field(
        None, description="speech backends: per class label, the texts to say (one drawn per clip) instead of its "
        "label text; _unknown_ says other words and _silence_ is noise unless given here",
    )  # fmt: skip
    unknown_exclude: list[str] = Field(
        [], description="speech backends: words an _unknown_ clip never says (near-homophones of a keyword)"
    )
    per_generator: dict[str, GeneratorOverrides] = Field(
        default_factory=dict, description="values for one backend only (with a generator axis in grid)"
    )
    variants: dict[str, GeneratorOverrides] = Field(
        default_factory=dict, description="named sets of generation settings for grid.variant"
    )

    @field_validator("prompt_template")
    @classmethod
    def _words_in_template(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                "a prompt template has to hold words (such as '{label}' or '{label} sound'), but is blank"
            )
        return value

    def for_generator(self, name: str, variant: str | None = None) -> GenerationConfig:
        """This config for backend ``name``: its ``per_generator`` values, then ``variant``'s, over the shared ones."""
        update: dict[str, Any] = {}
        for overrides in (self.per_generator.get(name), self.variants.get(variant) if variant else None):
            if overrides is not None:
                update.update(overrides.model_dump(exclude_unset=True))
        if name != self.generator and "model_id" not in update:
            update["model_id"] = None  # a model id given for one backend never applies to another
        return self.model_copy(update={**update, "generator": name, "per_generator": {}, "variants": {}})

    def given(self) -> set[str]:
        """The backend settings this config sets (not ``None``)."""
        return {key for key in BACKEND_KEYS if getattr(self, key) is not None and key != "tiny"}


# The train keys each backbone reads; a key given for a backbone that ignores it is an error.
BACKBONE_KEYS = {
    "cnn": {"n_mels", "freq_warp"},
    "ast": {"model_id"},
    "ssast": {"checkpoint_path"},
    "whisper": {"model_id"},
    "clap": {"model_id"},
    "speech_embedding": {"head", "views"},
}


class ReverbConfig(_Strict):
    """Room reverberation of training clips (``raysynth/train/rooms.py``): a bank of seeded shoebox
    rooms per trial, simulated with pyroomacoustics, one drawn per reverberated clip."""

    probability: float = Field(0.5, ge=0, le=1, description="chance that a training clip is reverberated")
    rt60: tuple[float, float] = Field((0.2, 0.8), description="reverberation times drawn, seconds")
    size_min: tuple[float, float, float] = Field((3.0, 3.0, 2.4), description="smallest room, metres")
    size_max: tuple[float, float, float] = Field((10.0, 8.0, 4.0), description="largest room, metres")
    rooms: int = Field(64, ge=1, le=4096, description="rooms simulated per trial")

    @model_validator(mode="after")
    def _ranges(self) -> ReverbConfig:
        low, high = self.rt60
        if not 0.05 <= low <= high <= 3.0:
            raise ValueError(
                f"train.reverb.rt60 has to be [low, high] with 0.05 <= low <= high <= 3 s, but is {list(self.rt60)}"
            )
        if not all(1.0 <= a <= b <= 50.0 for a, b in zip(self.size_min, self.size_max, strict=True)):
            raise ValueError(
                f"train.reverb.size_min and size_max have to be rooms of 1-50 m with min <= max on each side, "
                f"but are {list(self.size_min)} and {list(self.size_max)}"
            )
        return self


class TrainConfig(_Strict):
    backbone: Literal["cnn", "ast", "ssast", "whisper", "clap", "speech_embedding"] = "cnn"
    mode: Literal["finetune", "linear_probe"] = "finetune"
    model_id: str | None = Field(
        None, description="ast/whisper/clap: hub id or local path; None: the default"
    )
    checkpoint_path: str | None = Field(None, description="ssast: the official SSAST checkpoint file")
    tiny: bool = Field(False, description="random-weight toy backbone built offline (tests only)")
    epochs: int = Field(12, ge=1, le=1000)
    min_steps: int | None = Field(
        None, ge=1, le=1_000_000,
        description="a step budget: at least this many optimiser steps (more epochs for a small training "
        "set, so cells of very different sizes compare at matched steps); None: epochs only",
    )  # fmt: skip
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    n_mels: int = Field(40, ge=8, le=256, description="cnn: mel bands of its log-mel frontend")
    head: Literal["linear", "temporal"] = Field(
        "linear", description="speech_embedding: a linear layer on pooled and flattened frames, or a small "
        "1-D convolution over the frames",
    )  # fmt: skip
    num_threads: int = Field(1, ge=1, description="torch threads per trial")
    synthetic_valid_per_class: int = Field(
        10, ge=1, description="zero-shot trials: synthetic validation clips per class, generated on top"
    )
    speed_perturb: tuple[float, float] | None = Field(
        None, description="speed factors drawn per training clip, e.g. [0.9, 1.1]; None: off"
    )
    freq_warp: tuple[float, float] | None = Field(
        None, description="cnn: log-mel frequency warp factors drawn per training clip (VTLP-like); None: off"
    )
    reverb: ReverbConfig | None = Field(
        None,
        description="room reverberation of training clips before noise (pyroomacoustics rooms); None: off",
    )
    views: int = Field(
        0, ge=0, le=64, description="speech_embedding (frozen): augmented views of each training clip, embedded "
        "once and cached under <work_dir>/features; 0: augment and embed each batch on the fly",
    )  # fmt: skip

    @model_validator(mode="after")
    def _reverb_needs_waves(self) -> TrainConfig:
        if self.reverb is not None and self.mode == "linear_probe":
            raise ValueError(
                "train.reverb reverberates training clips, but train.mode linear_probe trains on cached clean "
                "embeddings: use mode finetune (a frozen speech_embedding stays frozen there)"
            )
        return self

    @model_validator(mode="after")
    def _frozen_heads(self) -> TrainConfig:
        if self.backbone == "speech_embedding" and self.mode == "linear_probe" and self.head == "temporal":
            raise ValueError(
                "train.mode linear_probe caches pooled embeddings, but the temporal head trains over the frames: "
                "use head linear with linear_probe, or mode finetune (the speech embedding stays frozen)"
            )
        return self

    @model_validator(mode="after")
    def _keys_the_backbone_reads(self) -> TrainConfig:
        # A key counts as given when it differs from its default (so a serialised config round-trips).
        ignored = sorted(
            key
            for key in {k for keys in BACKBONE_KEYS.values() for k in keys} - BACKBONE_KEYS[self.backbone]
            if getattr(self, key) != type(self).model_fields[key].default
        )
        if ignored:
            readers = {key: [b for b, keys in BACKBONE_KEYS.items() if key in keys] for key in ignored}
            detail = "; ".join(f"{key} is read only by {', '.join(readers[key])}" for key in ignored)
            raise ValueError(
                f"train.backbone {self.backbone} ignores {', '.join(ignored)} ({detail}): remove it"
            )
        return self


class NoiseConfig(_Strict):
    """Noise for augmentation (``grid.noise_source``) and for the noisy test sets."""

    directory: str | None = Field(
        None, description="folder of real noise recordings; relative paths are under the data root"
    )
    test_files: list[str] | None = Field(None, description="recordings held out as test noise (file stems)")
    segment_seconds: float = Field(5.0, gt=0)
    train_snr_db: tuple[float, float] = Field((3.0, 30.0), description="training SNR range, drawn uniformly")
    train_probability: float = Field(0.5, ge=0, le=1, description="share of training clips that get noise")
    test_snrs: list[float] = Field(
        [20.0, 10.0, 5.0], description="fixed test SNRs (test noise is always real)"
    )
    synthetic_clips_per_recording: int = Field(
        20, ge=1, description="synthetic noise clips generated per training noise recording"
    )

    @model_validator(mode="after")
    def _test_noise_held_out(self) -> NoiseConfig:
        if self.directory is not None and self.test_files == [] and self.test_snrs:
            raise ValueError(
                f"noise.test_files is empty, so no recording is held out as test noise, but noise.test_snrs "
                f"{self.test_snrs} asks for noisy tests; set noise.test_snrs: [] to test clean only, or name "
                f"held-out recordings in noise.test_files"
            )
        return self

    @field_validator("train_snr_db")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"train_snr_db has to be (low, high) with low <= high, but is {value}")
        return value


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


class GridConfig(_Strict):
    """Experiment axes. A scalar is a fixed value, a list is a grid axis."""

    real_fraction: list[float] = [1.0]
    synth_multiplier: list[float] = [0]
    strategy: list[Literal["label", "llm"]] = ["label"]
    seed: list[int] = [0]
    fold: list[int | None] = Field(
        [None], description="test fold, for datasets split into folds; 0: test on every fold (synthetic only)"
    )
    noise_source: list[Literal["none", "real", "synthetic"]] = ["none"]
    generator: list[str] | None = Field(None, description="None: generation.generator only")
    variant: list[str] | None = Field(None, description="names of generation.variants; None: no variants")
    backbone: list[Literal["cnn", "ast", "ssast", "whisper", "clap", "speech_embedding"]] | None = Field(
        None, description="train.backbone values as an axis; None: train.backbone only"
    )
    train_snr_db: list[tuple[float, float]] | None = Field(
        None, description="training SNR ranges, one per value; None: noise.train_snr_db"
    )
    reverb: list[float] | None = Field(
        None, description="train.reverb.probability values as an axis (0: no rooms; the rooms' ranges from "
        "train.reverb); None: train.reverb only",
    )  # fmt: skip
    quality_filter: list[str] = Field(
        ["none"], description="none, <score>_threshold:<t> or <score>_top_fraction:<f>; scores: clap, teacher"
    )
    round: list[Literal[1, 2]] | None = Field(
        None, description="generation rounds as an axis: [1, 2] adds round-2 trials, whose synthetic clips "
        "are partly a second generation round given to the classes their round-1 trial confused on validation "
        "(confusion.share); None: round 1 only",
    )  # fmt: skip

    @field_validator("*", mode="before")  # every axis: a scalar is a one-value list
    @classmethod
    def _listify(cls, value: Any, info: Any) -> Any:
        if (
            info.field_name == "train_snr_db"
            and isinstance(value, list)
            and value
            and not isinstance(value[0], list | tuple)
        ):
            return [value]  # one range given as [low, high]
        return _as_list(value)

    @field_validator("*")
    @classmethod
    def _non_empty_distinct(cls, values: list | None, info: Any) -> list | None:
        if values is None:
            return values
        if not values:
            raise ValueError(f"grid.{info.field_name} is empty: give at least one value (or leave it out)")
        counts = Counter(json.dumps(v, default=str) for v in values)  # linear: 100,000 seeds are fine
        duplicates = sorted(v for v, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"grid.{info.field_name} repeats {', '.join(duplicates)}: each value once")
        return values

    @field_validator("real_fraction")
    @classmethod
    def _fraction_range(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"each real_fraction has to be in [0, 1], but one is {value}")
        return values

    @field_validator("quality_filter")
    @classmethod
    def _filters(cls, values: list[str]) -> list[str]:
        from raysynth.quality.filters import parse_filter

        for value in values:
            parse_filter(value)
        return values

    @field_validator("synth_multiplier")
    @classmethod
    def _multiplier_range(cls, values: list[float]) -> list[float]:
        for value in values:
            if value < 0:
                raise ValueError(f"each synth_multiplier has to be >= 0, but one is {value}")
        return values

    @field_validator("train_snr_db")
    @classmethod
    def _snr_ranges(cls, values: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        for low, high in values or []:
            if low > high:
                raise ValueError(
                    f"each train_snr_db range has to be (low, high) with low <= high, but one is {[low, high]}"
                )
        return values

    def axes(self) -> dict[str, list[Any]]:
        """Every axis with its values (the optional ones only where the grid gives them)."""
        return {
            name: list(getattr(self, name))
            for name in type(self).model_fields
            if getattr(self, name) is not None
        }


class QualityConfig(_Strict):
    """Scoring synthetic clips (for ``grid.quality_filter``) and measuring synthetic sets (FAD, diversity)."""

    measure: bool = Field(
        False,
        description="each trial with synthetic clips reports FAD and diversity against the real training split",
    )
    speakers: bool = Field(
        False, description="each trial with synthetic clips reports their speaker diversity and the real clips' "
        "(resemblyzer voice vectors: mean cosine distance, effective number of voices)",
    )  # fmt: skip
    speaker_clips: int = Field(
        100, ge=2, le=100_000, description="clips per set the speaker encoder sees (seeded sample)"
    )
    embedding: Literal["teacher", "clap", "ast", "whisper", "speech_embedding"] = Field(
        "teacher", description="the embedding of FAD and diversity (teacher: its penultimate layer; "
        "speech_embedding: mean and max of the frozen speech embedding's frames)",
    )  # fmt: skip
    model_id: str | None = Field(None, description="clap/ast/whisper embedding: hub id or local path")
    clap_model_id: str | None = Field(None, description="the CLAP model of the clap score; None: the default")
    tiny: bool = Field(False, description="random-weight toy CLAP and embedding models built offline (tests)")
    teacher_epochs: int = Field(
        10, ge=1, le=1000, description="epochs of the teacher on the real training split"
    )
    oversample: float = Field(
        2.0, ge=1, le=100, description="threshold filters: candidates generated per kept clip (at most 100)"
    )
    duplicate_cosine: float = Field(
        0.995,
        gt=0,
        le=1,
        description="embeddings at this cosine similarity or above count as near-duplicates",
    )
    concurrency: int = Field(1, ge=1, description="scoring actors of the Ray Data pass")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per scoring actor (CLAP on a GPU node: 1)")
    batch_size: int = Field(64, ge=1, description="clips per scoring batch")


class ResourcesConfig(_Strict):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float = Field(0.0, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    max_failures: int = Field(1, ge=0, description="retries of a failed trial, from its last checkpoint")
    max_trials: int = Field(
        MAX_TRIALS, ge=1, description="a grid that makes more trials is refused before it is expanded"
    )


class SearchConfig(_Strict):
    """How Tune picks the trials: every grid cell (default), or a search over the cells.

    ``random`` and ``optuna`` (Optuna's TPE) run ``num_samples`` trials, each on one cell of the grid,
    with ``real_fraction`` drawn from ``real_fraction_range`` (log-uniform) when it is given. The
    ``asha`` scheduler stops weak trials early on validation accuracy, never on test. Optuna
    also optimises validation accuracy.
    """

    algorithm: Literal["grid", "random", "optuna"] = "grid"
    num_samples: int = Field(1, ge=1, description="random/optuna: trials to run (grid: every cell once)")
    real_fraction_range: Range | None = Field(
        None, description="random/optuna: draw real_fraction log-uniformly from (low, high) in (0, 1]"
    )
    scheduler: Literal["fifo", "asha"] = "fifo"
    grace_period: int = Field(1, ge=1, description="asha: epochs every trial runs before it can be stopped")
    reduction_factor: float = Field(
        3.0, gt=1, description="asha: 1/reduction_factor of trials go on per rung"
    )

    @model_validator(mode="after")
    def _search_needs_samples(self) -> SearchConfig:
        if self.algorithm == "grid" and (self.num_samples != 1 or self.real_fraction_range is not None):
            raise ValueError(
                "search.num_samples and search.real_fraction_range need algorithm random or optuna"
            )
        low, high = self.real_fraction_range or (0.5, 1.0)
        if not 0 < low <= high <= 1:
            raise ValueError(f"search.real_fraction_range has to be in (0, 1], but is {[low, high]}")
        return self


class ConfusionConfig(_Strict):
    """Confusion-driven generation (``grid.round: [1, 2]``, :mod:`raysynth.sweep.rounds`)."""

    share: float = Field(
        0.5, gt=0, le=1, description="the part of a round-2 trial's synthetic clips per class that a second "
        "generation round replaces, given out over the classes by its round-1 trial's validation confusions",
    )  # fmt: skip
    floor: float = Field(
        0.1, ge=0, le=1, description="the part of the round-2 clips shared evenly over every class before "
        "the rest follows the confusions (1: even, as round 1)",
    )  # fmt: skip


class ExperimentSpec(_Strict):
    _source: str = PrivateAttr("<spec>")  # the file it was read from, for error messages
    name: str = Field(pattern=NAME_PATTERN)

    @field_validator("name")
    @classmethod
    def _one_folder(cls, value: str) -> str:
        if set(value) == {"."}:
            raise ValueError(f"name '{value}' has to be a folder name, not '.' or '..'")
        return value

    paths: PathsConfig = PathsConfig()
    dataset: DatasetConfig
    generation: GenerationConfig = GenerationConfig()
    train: TrainConfig = TrainConfig()
    noise: NoiseConfig = NoiseConfig()
    grid: GridConfig = GridConfig()
    search: SearchConfig = SearchConfig()
    quality: QualityConfig = QualityConfig()
    resources: ResourcesConfig = ResourcesConfig()
    confusion: ConfusionConfig = ConfusionConfig()
    tracking: Literal["none", "mlflow"] = Field(
        "none",
        description="mlflow: every trial an MLflow run (params, per-epoch metrics, recipe tags, files)",
    )
    tracking_uri: str | None = Field(
        None, description="the MLflow tracking server or store; None: sqlite:///<work_dir>/mlflow.db"
    )

    @model_validator(mode="after")
    def _noise_needs_recordings(self) -> ExperimentSpec:
        sources = [s for s in self.grid.noise_source if s != "none"]
        if sources and self.noise.directory is None:
            raise ValueError(
                f"grid.noise_source {sources} needs noise.directory (a folder of real noise recordings), but it is unset"
            )
        return self

    @model_validator(mode="after")
    def _tracking_uri_needs_tracking(self) -> ExperimentSpec:
        if self.tracking_uri is not None and self.tracking != "mlflow":
            raise ValueError(
                "tracking_uri is set but tracking is not mlflow: set tracking: mlflow, or remove it"
            )
        return self

    @model_validator(mode="after")
    def _reverb_on_the_axis(self) -> ExperimentSpec:
        for value in self.grid.reverb or []:
            if not 0 <= value <= 1:
                raise ValueError(f"each grid.reverb value is a probability in [0, 1], but one is {value}")
        if any(self.grid.reverb or []) and self.train.mode == "linear_probe":
            raise ValueError(
                "grid.reverb reverberates training clips, but train.mode linear_probe trains on cached clean "
                "embeddings: use mode finetune"
            )
        return self

    @model_validator(mode="after")
    def _round_two_after_round_one(self) -> ExperimentSpec:
        rounds = self.grid.round or []
        if 2 not in rounds:
            return self
        if 1 not in rounds:
            raise ValueError(
                "grid.round [2] needs round 1 beside it: round 2 reads its round-1 trial's confusions"
            )
        if not self.needs_synthetic():
            raise ValueError(
                "grid.round 2 generates more synthetic clips, but every grid.synth_multiplier is 0"
            )
        if self.search.algorithm != "grid":
            raise ValueError(
                "grid.round 2 pairs each round-2 trial with its round-1 trial: use search.algorithm grid"
            )
        if self.train.mode == "linear_probe":
            raise ValueError(
                "grid.round 2 trains on clips generated after the input stages, but train.mode linear_probe "
                "reads an embedding cache filled before them: use mode finetune (or backbone speech_embedding)"
            )
        filters = [f for f in self.grid.quality_filter if f != "none"]
        if filters:
            raise ValueError(
                f"grid.round 2 with grid.quality_filter {filters}: the round-2 clips are not scored; "
                f"use quality_filter none"
            )
        return self

    @model_validator(mode="after")
    def _backbones_on_the_axis(self) -> ExperimentSpec:
        """Each backbone of ``grid.backbone`` checked with the train settings it runs with: the keys of
        another backbone of the axis (``head`` beside ``cnn``) are left to it, any other key it ignores is
        refused. The embedding cache of linear_probe is per backbone: not an axis."""
        axis = set(self.grid.backbone or [])
        for backbone in self.grid.backbone or []:
            if self.train.mode == "linear_probe":
                raise ValueError("grid.backbone with train.mode linear_probe: run one spec per backbone")
            others = {k for b in axis - {backbone} for k in BACKBONE_KEYS[b]} - BACKBONE_KEYS[backbone]
            given = {k: v for k, v in self.train.model_dump(exclude_defaults=True).items() if k not in others}
            try:
                TrainConfig(**{**given, "backbone": backbone})
            except ValidationError as error:
                detail = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
                raise ValueError(f"grid.backbone {backbone}: {detail}") from None
        return self

    @model_validator(mode="after")
    def _every_fold_only_without_real_training(self) -> ExperimentSpec:
        if 0 in self.grid.fold and any(f > 0 for f in self.grid.real_fraction):
            raise ValueError(
                "grid.fold 0 tests on every fold, which leaves no real clip to train or validate on: use it with "
                "grid.real_fraction 0 only (synthetic training), or name the folds"
            )
        return self

    @model_validator(mode="after")
    def _asha_counts_epochs(self) -> ExperimentSpec:
        if self.search.scheduler == "asha" and self.train.min_steps is not None:
            raise ValueError(
                "search.scheduler asha stops trials by epoch, and train.min_steps gives trials different "
                "epoch counts: use one of them"
            )
        return self

    @model_validator(mode="after")
    def _filters_need_synthetic_clips(self) -> ExperimentSpec:
        filters = [f for f in self.grid.quality_filter if f != "none"]
        if filters and not self.needs_synthetic():
            raise ValueError(
                f"grid.quality_filter {filters} filters synthetic clips, but every grid.synth_multiplier is 0"
            )
        return self

    @model_validator(mode="after")
    def _variants_are_defined(self) -> ExperimentSpec:
        defined = sorted(self.generation.variants)
        unknown = [v for v in self.grid.variant or [] if v not in self.generation.variants]
        if unknown:
            raise ValueError(
                f"grid.variant names {unknown}, which generation.variants does not define (it defines {defined})"
            )
        unused = [v for v in defined if v not in (self.grid.variant or [])]
        if unused:
            raise ValueError(f"generation.variants defines {unused}, which grid.variant does not use")
        return self

    def spec_hash(self) -> str:
        """Hash of the full spec, recorded as provenance in shards and results."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def generator_values(self) -> list[str]:
        """The generator values of the cells: the grid's generator axis, or ``generation.generator``
        (a merged value, ``tts+piper``, is one value)."""
        return list(self.grid.generator) if self.grid.generator else [self.generation.generator]

    def generators(self) -> list[str]:
        """The backends this experiment uses, each once (a merged value's engines included)."""
        engines = [e for value in self.generator_values() for e in value.split("+")]
        return list(dict.fromkeys(engines))

    def variants(self) -> list[str | None]:
        """The generation variants of the grid (``[None]`` where there are none)."""
        return list(self.grid.variant) if self.grid.variant else [None]

    def needs_synthetic(self) -> bool:
        return any(m > 0 for m in self.grid.synth_multiplier)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys that ``model`` accepts at ``loc`` (the parent of the offending key)."""
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        field = current.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if typing.get_origin(annotation) is dict and parts:
            annotation = typing.get_args(annotation)[1]  # a dict of models: skip its key
            parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return list(current.model_fields)


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid experiment spec ({error.error_count()} problem(s))"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<top level>"
        given = item.get("input")
        if item["type"] == "extra_forbidden":
            known = _known_keys(ExperimentSpec, item["loc"][:-1])
            close = difflib.get_close_matches(str(item["loc"][-1]), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"  - unknown key '{key}'{hint} expected one of: {', '.join(known)}")
        elif item["type"] == "missing":
            lines.append(f"  - missing key '{key}': it is required")
        elif not item["loc"]:
            lines.append(f"  - {item['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  - key '{key}': {item['msg']}; given {given!r}")
    if len(lines) == 2:  # one problem: one line
        return f"{source}: invalid experiment spec: {lines[1].removeprefix('  - ')}"
    return "\n".join(lines)


def parse_spec(raw: Any, source: str = "<spec>") -> ExperimentSpec:
    """Validate a mapping (as loaded from YAML) into an :class:`ExperimentSpec`."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: the spec has to be a mapping of keys, but is {type(raw).__name__}")
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_format_errors(error, source)) from None
    spec._source = source
    return spec


class _SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (a 572-byte alias bomb expands into billions of
    leaves) and keys written twice in one mapping (YAML would keep the last one silently)."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the alias *{event.anchor} is not accepted in a spec (write the values out)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' is written twice, on line {seen[key]} and line {line}: keep one",
                    key_node.start_mark,
                )
            seen.setdefault(key, line) if isinstance(key, str) else None
        return super().construct_mapping(node, deep=deep)


def load_spec(path: str | os.PathLike[str]) -> ExperimentSpec:
    """Load and validate a YAML spec file.

    Args:
        path: the YAML file.

    Raises:
        SpecError: with the file and line for YAML syntax errors, and the file and key for
            schema errors.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {path} does not exist")
    try:
        raw = yaml.load(path.read_text(), Loader=_SpecLoader)  # noqa: S506 (a SafeLoader)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where}: {error.problem}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise SpecError(f"{where}: YAML syntax error: {problem}") from None
    return parse_spec(raw, source=str(path))


def resolve_data_root(spec: ExperimentSpec, cli_value: str | None = None) -> Path | None:
    """The corpora root: the CLI's ``--data-root``, then the spec, then ``$RAYSYNTH_DATA``."""
    value = cli_value or spec.paths.data_root or os.environ.get(DATA_ENV)
    return Path(value).expanduser().resolve() if value else None


def resolve_work_dir(spec: ExperimentSpec, cli_value: str | None = None) -> Path | str:
    """Where manifests, caches and shards are written: CLI, spec, ``$RAYSYNTH_WORK``, then
    ``./raysynth_work``. A folder (a Path), or an object store URI such as ``s3://bucket/prefix`` (a
    string), read and written through :mod:`raysynth.workspace`."""
    value = cli_value or spec.paths.work_dir or os.environ.get(WORK_ENV) or DEFAULT_WORK_DIR
    if "://" in value and not value.startswith("file://"):
        given = "--work-dir" if cli_value else "paths.work_dir" if spec.paths.work_dir else f"${WORK_ENV}"
        scheme = value.split("://", 1)[0]
        if scheme not in ("s3", "gs", "gcs", "hdfs", "abfs", "abfss") or not value.split("://", 1)[1].strip(
            "/"
        ):
            raise SpecError(
                f"{given} {value}: a work dir is a folder or an object store URI such as s3://bucket/prefix"
            )
        return value.rstrip("/")
    return Path(value.removeprefix("file://")).expanduser().resolve()


def check_name(name: str, key: str) -> str:
    """An experiment name is one folder name: letters, digits, ``_ . -``, and not ``.`` or ``..``."""
    import re

    if not re.match(NAME_PATTERN, name) or set(name) == {"."}:
        raise SpecError(
            f"{key} '{name}' has to be one folder name (letters, digits, '_', '.', '-'; not '.' or '..'), "
            f"so that the experiment stays inside its results folder"
        )
    return name


def resolve_shard_store(
    spec: ExperimentSpec, work_dir: Path | str, cli_value: str | None = None
) -> str | Path:
    """The shard store: CLI, spec, then ``<work_dir>/synthetic``. ``s3://`` URIs pass through."""
    value = cli_value or spec.paths.shard_store
    if value and "://" in value:
        return value
    return Path(value).expanduser().resolve() if value else storage.join(work_dir, "synthetic")


def resolve_storage_path(spec: ExperimentSpec, work_dir: Path | str, cli_value: str | None = None) -> str:
    """Tune's storage path: CLI, spec, then ``<work_dir>/ray_results``. ``s3://`` URIs pass through."""
    value = cli_value or spec.paths.storage_path
    if value and "://" in value:
        return value
    return str(Path(value).expanduser().resolve()) if value else str(storage.join(work_dir, "ray_results"))
