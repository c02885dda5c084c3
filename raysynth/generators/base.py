"""The Generator protocol and the registry every backend module fills."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from raysynth.config import GenerationConfig


class GeneratorError(RuntimeError):
    """A generator that cannot be built or loaded, with what to do about it."""


@runtime_checkable
class Generator(Protocol):
    """A text-to-audio model loaded once, generating batches of prompts.

    ``generate`` returns one mono float32 array per prompt, at ``sample_rate``.
    """

    name: str
    model_id: str
    sample_rate: int

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]: ...


GeneratorFactory = Callable[["GenerationConfig"], Generator]
GENERATORS: dict[str, GeneratorFactory] = {}
DEFAULT_MODEL_IDS: dict[str, str] = {}
TINY_MODEL_IDS: dict[str, str] = {}


def register_generator(name: str, default_model_id: str, tiny_model_id: str):
    """Register ``from_config`` of a backend under ``name``."""

    def decorator(factory: GeneratorFactory) -> GeneratorFactory:
        GENERATORS[name] = factory
        DEFAULT_MODEL_IDS[name] = default_model_id
        TINY_MODEL_IDS[name] = tiny_model_id
        return factory

    return decorator


def check_generator_name(name: str) -> None:
    if name not in GENERATORS:
        raise GeneratorError(
            f"unknown generator '{name}'; registered generators: {', '.join(sorted(GENERATORS))}"
        )


def resolve_model_id(config: GenerationConfig) -> str:
    """The model id recorded in shards: the tiny id, the configured id, or the backend default."""
    check_generator_name(config.generator)
    if config.tiny:
        return TINY_MODEL_IDS[config.generator]
    return config.model_id or DEFAULT_MODEL_IDS[config.generator]


def build_generator(config: GenerationConfig) -> Generator:
    """Load the generator named in ``config`` (call once per actor)."""
    check_generator_name(config.generator)
    return GENERATORS[config.generator](config)
