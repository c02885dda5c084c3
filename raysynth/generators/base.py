"""The Generator protocol, the registry every backend module fills, and the checks run before any model loads."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch

    from raysynth.config import GenerationConfig


class GeneratorError(RuntimeError):
    """A generator that cannot be built or loaded, with what to do about it."""


@runtime_checkable
class Generator(Protocol):
    """A text-to-audio model loaded once, generating batches of prompts.

    ``generate`` returns one mono float32 array per prompt, at ``sample_rate``. Clip b depends only
    on ``prompts[b]`` and ``seeds[b]``, never on the rest of its batch.
    """

    name: str
    model_id: str
    sample_rate: int

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]: ...


GeneratorFactory = Callable[["GenerationConfig"], Generator]


@dataclass(frozen=True)
class Backend:
    """What the engine and the spec checks need to know about a backend before loading it.

    Args:
        factory: ``from_config``, which loads the model.
        default_model_id: the hub id used when the spec gives none.
        tiny_model_id: the id recorded for the tiny random-weight model.
        max_duration_s: the longest clip the model makes (from its training or its positions).
        batch_size: clips per call when the spec gives none (fits a 24 GiB GPU in fp16).
        settings: the ``generation`` keys the backend reads, with their defaults (``None``: no
            default). A key it does not read is refused when a spec sets it, and every key it
            reads is part of the recipe that names its clips.
        execution: the ``generation`` keys it reads that change speed, never the audio, with their
            defaults (``fast_decode``, proven token-identical; ``compile``). They are left out of
            the recipe, as the batch size is.
        schedulers: the ``generation.scheduler`` values it accepts (first: the default).
        num_gpus: GPUs per actor when the spec gives none (0: a CPU backend, one actor per CPU).
        speech: a text-to-speech backend: its prompt is the words to say, not a sound description.
        check: checks of its settings that need no model (voices it has), run before any actor.
        licences: the licences of its engine and of its default model or voices (``engine``,
            ``voice``), recorded in every shard's provenance and listed by the report.
        revision: facts of the backend's own code that change its audio (a fix that changes
            clips adds or bumps one), part of every recipe, so clips made before a fix are
            never mistaken for clips made after it.
    """

    factory: GeneratorFactory
    default_model_id: str
    tiny_model_id: str
    max_duration_s: float
    batch_size: int
    settings: dict[str, Any] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    schedulers: tuple[str, ...] = ()
    num_gpus: float = 1.0
    speech: bool = False
    check: Callable[[GenerationConfig], None] | None = None
    licences: dict[str, str] = field(default_factory=dict)
    revision: dict[str, Any] = field(default_factory=dict)


BACKENDS: dict[str, Backend] = {}
# Settings every backend reads: they always name the clips.
ACTOR_KEYS = ("model_id", "tiny", "batch_size", "num_gpus", "concurrency", "runtime_env")


def register_generator(name: str, **info) -> Callable[[GeneratorFactory], GeneratorFactory]:
    """Register ``from_config`` of a backend under ``name``, with its :class:`Backend` facts."""

    def decorator(factory: GeneratorFactory) -> GeneratorFactory:
        BACKENDS[name] = Backend(factory=factory, **info)
        return factory

    return decorator


MERGE = "+"  # a cell value naming several engines: "tts+piper+flite" trains on all of them at once


def engines_of(name: str) -> list[str]:
    """The backends a generator value names: one, or several joined by ``+`` (a merged cell)."""
    return name.split(MERGE) if MERGE in name else [name]


def check_engines(name: str) -> list[str]:
    """The backends of a generator value, each registered, a merged one naming two or more distinct ones."""
    engines = engines_of(name)
    if len(engines) > 1:
        if len(set(engines)) != len(engines) or "" in engines:
            raise GeneratorError(
                f"generator '{name}' merges engines with '{MERGE}': name two or more distinct ones, such as "
                f"'tts{MERGE}piper{MERGE}flite'"
            )
        if len({BACKENDS[e].speech for e in engines if e in BACKENDS}) > 1:
            raise GeneratorError(f"generator '{name}' merges speech and sound backends; merge one kind only")
    for engine in engines:
        check_generator_name(engine)
    return engines


def check_generator_name(name: str) -> Backend:
    if name not in BACKENDS:
        raise GeneratorError(
            f"unknown generator '{name}'; registered generators: {', '.join(sorted(BACKENDS))}"
        )
    return BACKENDS[name]


def resolve_model_id(config: GenerationConfig) -> str:
    """The model id recorded in shards: the tiny id, the configured id, or the backend default."""
    backend = check_generator_name(config.generator)
    if config.tiny:
        return backend.tiny_model_id
    return config.model_id or backend.default_model_id


def effective_config(config: GenerationConfig) -> GenerationConfig:
    """``config`` with every backend-dependent default (``None``) filled in from the backend."""
    backend = check_generator_name(config.generator)
    defaults = {**backend.settings, **backend.execution}
    update: dict[str, Any] = {
        key: default for key, default in defaults.items() if getattr(config, key) is None
    }
    if config.batch_size is None:
        update["batch_size"] = backend.batch_size
    if config.num_gpus is None:
        update["num_gpus"] = backend.num_gpus
    return config.model_copy(update=update)


def pins_batches(config: GenerationConfig) -> bool:
    """Whether a clip of ``config`` depends on its batch: a torch backend whose actors hold a GPU.

    On CPU in fp32 every backend's clip is the one it makes alone, whatever its batch (the
    contract tests prove it to 1e-4). On a GPU it is not promised: cuBLAS and SDPA choose kernels
    by shape, and in fp16 or bf16 a clip's numbers move with its batch size and batch-mates, enough
    to flip a sampled token. There the batch is part of what names a clip.
    """
    backend = check_generator_name(config.generator)
    num_gpus = backend.num_gpus if config.num_gpus is None else config.num_gpus
    return backend.num_gpus > 0 and num_gpus > 0


def generation_recipe(config: GenerationConfig) -> dict[str, Any]:
    """Everything in ``config`` that changes a clip's audio: the backend, its model and its settings.

    On CPU the batch size, GPUs and retries are left out (a clip is the same whichever batch or
    actor makes it). On a GPU (:func:`pins_batches`) the batch size is kept in, and each clip's id
    also names its batch-mates (:func:`raysynth.generate.plan.pin_batches`). The tiny models'
    weight seed is kept in (their weights are drawn from it), and so is the backend's revision.
    """
    config = effective_config(config)
    backend = BACKENDS[config.generator]
    recipe: dict[str, Any] = {
        "generator": config.generator,
        "model_id": resolve_model_id(config),
        "duration_s": config.duration_s,
        **{key: getattr(config, key) for key in sorted(backend.settings)},
        **backend.revision,
    }
    if pins_batches(config):
        recipe["gpu_batch_size"] = config.batch_size
    if config.tiny:
        recipe["tiny_weights_seed"] = config.seed
    return json.loads(json.dumps(recipe))  # tuples as lists: the same recipe whatever its origin


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or Path(model_id).expanduser().exists()


def check_generation(config: GenerationConfig) -> GenerationConfig:
    """Every check that needs no model: run before any actor or GPU is allocated.

    Returns:
        the effective config (backend defaults filled in).

    Raises:
        GeneratorError: naming the value and what was expected.
    """
    backend = check_generator_name(config.generator)
    ignored = sorted(config.given() - set(backend.settings) - set(backend.execution) - set(ACTOR_KEYS))
    if ignored:
        raise GeneratorError(
            f"generation sets {', '.join(ignored)}, which {config.generator} does not read "
            f"(it reads {', '.join(sorted({*backend.settings, *backend.execution})) or 'no settings'}); "
            f"set it under "
            f"generation.per_generator.<backend> for the backend that reads it, or remove it"
        )
    if not 0 < config.duration_s <= backend.max_duration_s:
        raise GeneratorError(
            f"generation.duration_s has to be in (0, {backend.max_duration_s}] for {config.generator}, "
            f"but is {config.duration_s}"
        )
    if config.scheduler is not None and config.scheduler not in backend.schedulers:
        raise GeneratorError(
            f"generation.scheduler has to be one of {list(backend.schedulers)} for {config.generator}, "
            f"but is '{config.scheduler}'"
        )
    if not config.tiny and config.model_id and _looks_like_path(config.model_id):
        if not Path(config.model_id).expanduser().is_dir():
            raise GeneratorError(
                f"generation.model_id '{config.model_id}' looks like a local path, but there is no such "
                f"folder; give a folder made by save_pretrained/huggingface-cli download, or a hub id such "
                f"as {backend.default_model_id}"
            )
    effective = effective_config(config)
    if backend.check is not None:
        backend.check(effective)
    return effective


def torch_dtype(name: str) -> torch.dtype:
    """``fp32`` / ``fp16`` / ``bf16`` as a torch dtype."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def hub_error(backend: str, model_id: str, error: Exception, local_layout: str) -> GeneratorError:
    """The error for a model that cannot be loaded: the id, the cause, and how to get it offline."""
    return GeneratorError(
        f"cannot load {backend} model '{model_id}': {type(error).__name__}: {error}. "
        f"On a machine with network access, pre-download it with `huggingface-cli download {model_id}` "
        f"(then set HF_HUB_OFFLINE=1 to use the cache), or set generation.model_id to a local "
        f"directory holding {local_layout}."
    )


def build_generator(config: GenerationConfig) -> Generator:
    """Load the generator named in ``config`` (call once per actor)."""
    config = check_generation(config)
    return BACKENDS[config.generator].factory(config)


def diffusion_pipeline(config, build_tiny, load, tiny_id: str, default_id: str, denoiser: str):
    """``(model_id, pipeline)`` of a diffusers backend on this machine's device: the tiny model
    built in code, or ``load(model_id, dtype)`` (``from_pretrained`` with ``torch_dtype``), its
    denoiser compiled when ``generation.compile`` asks."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch_dtype(config.dtype)
    if config.tiny:
        model_id, pipeline = tiny_id, build_tiny(seed=config.seed).to(dtype=dtype)
    else:
        model_id = config.model_id or default_id
        pipeline = load(model_id, dtype)
    compile_denoiser(pipeline, denoiser, bool(config.compile), device)
    return model_id, pipeline.to(device)


def compile_denoiser(pipeline, attribute: str, enabled: bool, device: str) -> None:
    """``torch.compile`` the pipeline's denoiser (UNet or transformer) on CUDA when asked; the first
    batch of each shape then pays the compilation. On CPU it is left as it is (nothing to gain)."""
    if enabled and device == "cuda":
        import torch

        setattr(pipeline, attribute, torch.compile(getattr(pipeline, attribute), fullgraph=False))


def eval_components(pipeline):
    """Inference mode for every module of a diffusers pipeline built in code (they start in training
    mode, with dropout on); ``from_pretrained`` does this itself. Returns the pipeline."""
    import torch

    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()
    return pipeline
