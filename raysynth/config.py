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
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DATA_ENV = "RAYSYNTH_DATA"
WORK_ENV = "RAYSYNTH_WORK"
DEFAULT_WORK_DIR = "raysynth_work"


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


class GeneratorOverrides(_Strict):
    """Per-backend values under ``generation.per_generator.<name>``, for specs with a generator axis."""

    model_id: str | None = None
    tiny: bool | None = None
    batch_size: int | None = Field(None, ge=1, le=4096)
    top_k: int | None = Field(None, ge=1)
    guidance: float | None = Field(None, ge=0)
    steps: int | None = Field(None, ge=1)
    scheduler: str | None = None
    dtype: Literal["fp32", "fp16", "bf16"] | None = None
    negative_prompt: str | None = None
    num_gpus: float | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)
    runtime_env: dict[str, Any] | None = None


class GenerationConfig(_Strict):
    generator: str = "audiogen"
    model_id: str | None = Field(None, description="hub id or local path; None: the backend's default")
    tiny: bool = Field(False, description="random-weight toy model built offline (tests, --smoke-test)")
    duration_s: float = Field(1.0, gt=0, le=60)
    batch_size: int | None = Field(None, ge=1, le=4096, description="None: the backend's default")
    top_k: int = Field(250, ge=1, description="language-model backends: top-k sampling")
    guidance: float | None = Field(None, ge=0, description="classifier-free guidance; None: the backend's")
    steps: int | None = Field(None, ge=1, description="diffusion backends: denoising steps")
    scheduler: str | None = Field(
        None, description="diffusion backends: dpm (DPM-Solver++) or ddim; None: the backend's default"
    )
    dtype: Literal["fp32", "fp16", "bf16"] = Field("fp32", description="weights and activations")
    negative_prompt: str | None = Field(None, description="diffusion backends: what to steer away from")
    prompt_template: str | None = Field(None, description="None: the dataset's own template")
    descriptions: str | None = Field(
        None, description="llm strategy: description file; None: the shipped one"
    )
    llm_k: int = Field(3, ge=1, description="llm strategy: descriptions sampled into each prompt")
    num_gpus: float = Field(1.0, ge=0)
    concurrency: int | None = Field(None, ge=1, description="None: one actor per GPU (1 on CPU)")
    seed: int = 0
    max_regenerations: int = Field(2, ge=0, description="new seeds tried for a NaN, silent or clipped clip")
    runtime_env: dict[str, Any] | None = Field(
        None, description="Ray runtime_env for the generator actors (e.g. pip pins of a conflicting backend)"
    )
    per_generator: dict[str, GeneratorOverrides] = Field(
        default_factory=dict, description="values for one backend only (with a generator axis in grid)"
    )

    def for_generator(self, name: str) -> GenerationConfig:
        """This config for backend ``name``: its ``per_generator`` values over the shared ones."""
        overrides = self.per_generator.get(name)
        update = overrides.model_dump(exclude_none=True) if overrides else {}
        if name != self.generator and "model_id" not in update:
            update["model_id"] = None  # a model id given for one backend never applies to another
        return self.model_copy(update={**update, "generator": name, "per_generator": {}})


class TrainConfig(_Strict):
    backbone: Literal["cnn", "ast", "ssast", "whisper", "clap"] = "cnn"
    mode: Literal["finetune", "linear_probe"] = "finetune"
    model_id: str | None = Field(None, description="hub id or local path; None: the backbone's default")
    checkpoint_path: str | None = Field(None, description="ssast: the official SSAST checkpoint file")
    tiny: bool = Field(False, description="random-weight toy backbone built offline (tests only)")
    epochs: int = Field(12, ge=1, le=1000)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    n_mels: int = Field(40, ge=8, le=256)
    num_threads: int = Field(1, ge=1, description="torch threads per trial")


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
    fold: list[int | None] = Field([None], description="test fold, for datasets split into folds")
    noise_source: list[Literal["none", "real", "synthetic"]] = ["none"]
    generator: list[str] | None = Field(None, description="None: generation.generator only")

    @field_validator("*", mode="before")  # every axis: a scalar is a one-value list
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("real_fraction")
    @classmethod
    def _fraction_range(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"each real_fraction has to be in [0, 1], but one is {value}")
        return values

    @field_validator("synth_multiplier")
    @classmethod
    def _multiplier_range(cls, values: list[float]) -> list[float]:
        for value in values:
            if value < 0:
                raise ValueError(f"each synth_multiplier has to be >= 0, but one is {value}")
        return values

    def axes(self) -> dict[str, list[Any]]:
        """Every axis with its values (``generator`` only where the grid gives it)."""
        return {
            name: list(getattr(self, name))
            for name in type(self).model_fields
            if getattr(self, name) is not None
        }


class ResourcesConfig(_Strict):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float = Field(0.0, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    max_failures: int = Field(1, ge=0, description="retries of a failed trial, from its last checkpoint")


class ExperimentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    paths: PathsConfig = PathsConfig()
    dataset: DatasetConfig
    generation: GenerationConfig = GenerationConfig()
    train: TrainConfig = TrainConfig()
    noise: NoiseConfig = NoiseConfig()
    grid: GridConfig = GridConfig()
    resources: ResourcesConfig = ResourcesConfig()

    @model_validator(mode="after")
    def _noise_needs_recordings(self) -> ExperimentSpec:
        sources = [s for s in self.grid.noise_source if s != "none"]
        if sources and self.noise.directory is None:
            raise ValueError(
                f"grid.noise_source {sources} needs noise.directory (a folder of real noise recordings), but it is unset"
            )
        return self

    def spec_hash(self) -> str:
        """Hash of the full spec, recorded as provenance in shards and results."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def generators(self) -> list[str]:
        """The backends this experiment uses: the grid's generator axis, or ``generation.generator``."""
        return list(self.grid.generator) if self.grid.generator else [self.generation.generator]

    def per_generator_names(self) -> list[str]:
        return list(self.generation.per_generator)

    def needs_synthetic(self) -> bool:
        return any(m > 0 for m in self.grid.synth_multiplier)

    def needs_noise(self) -> bool:
        return self.noise.directory is not None or any(s != "none" for s in self.grid.noise_source)


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
    return "\n".join(lines)


def parse_spec(raw: Any, source: str = "<spec>") -> ExperimentSpec:
    """Validate a mapping (as loaded from YAML) into an :class:`ExperimentSpec`."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: the spec has to be a mapping of keys, but is {type(raw).__name__}")
    try:
        return ExperimentSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_format_errors(error, source)) from None


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
        raw = yaml.safe_load(path.read_text())
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


def resolve_work_dir(spec: ExperimentSpec, cli_value: str | None = None) -> Path:
    """Where manifests and shards are written: CLI, spec, ``$RAYSYNTH_WORK``, then ``./raysynth_work``."""
    value = cli_value or spec.paths.work_dir or os.environ.get(WORK_ENV) or DEFAULT_WORK_DIR
    return Path(value).expanduser().resolve()


def resolve_shard_store(spec: ExperimentSpec, work_dir: Path, cli_value: str | None = None) -> str | Path:
    """The shard store: CLI, spec, then ``<work_dir>/synthetic``. ``s3://`` URIs pass through."""
    value = cli_value or spec.paths.shard_store
    if value and "://" in value:
        return value
    return Path(value).expanduser().resolve() if value else work_dir / "synthetic"


def resolve_storage_path(spec: ExperimentSpec, work_dir: Path, cli_value: str | None = None) -> str:
    """Tune's storage path: CLI, spec, then ``<work_dir>/ray_results``. ``s3://`` URIs pass through."""
    value = cli_value or spec.paths.storage_path
    if value and "://" in value:
        return value
    return str(Path(value).expanduser().resolve()) if value else str(work_dir / "ray_results")
