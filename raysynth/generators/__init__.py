"""Text-to-audio backends, one module each, behind the :class:`Generator` protocol."""

# Importing a backend module registers it; the heavy libraries load only when a model is built.
from raysynth.generators import audiogen, audioldm2, flite, kokoro, musicgen, piper, stable_audio, tts  # noqa: F401
from raysynth.generators.base import (
    BACKENDS,
    Generator,
    GeneratorError,
    build_generator,
    check_engines,
    check_generation,
    check_generator_name,
    effective_config,
    engines_of,
    generation_recipe,
    pins_batches,
    resolve_model_id,
)

__all__ = [
    "BACKENDS",
    "Generator",
    "GeneratorError",
    "build_generator",
    "check_generation",
    "check_engines",
    "check_generator_name",
    "effective_config",
    "engines_of",
    "generation_recipe",
    "pins_batches",
    "resolve_model_id",
]
