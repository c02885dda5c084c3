"""Text-to-audio backends, one module each, behind the :class:`Generator` protocol."""

from raysynth.generators import audiogen  # noqa: F401  (registers the backend)
from raysynth.generators.base import (
    DEFAULT_MODEL_IDS,
    GENERATORS,
    Generator,
    GeneratorError,
    build_generator,
    check_generator_name,
    resolve_model_id,
)

__all__ = [
    "DEFAULT_MODEL_IDS",
    "GENERATORS",
    "Generator",
    "GeneratorError",
    "build_generator",
    "check_generator_name",
    "resolve_model_id",
]
