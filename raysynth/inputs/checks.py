"""The checks of a spec's generators that need no data: backends and their settings per variant,
merged generator values, and the template a speech backend would say."""

from __future__ import annotations

import re

from raysynth.config import ExperimentSpec
from raysynth.datasets import DatasetRecipe
from raysynth.generators import BACKENDS, GeneratorError, check_engines, check_generation

# Words that make a template a description of a sound rather than words to say.
_SOUND_WORDS = re.compile(r"\b(sound|sounds|noise|music|audio|recording|clip)\b", re.IGNORECASE)


class InputError(ValueError):
    """A spec whose inputs cannot be made as asked (a noise folder that does not exist, a template a
    backend cannot say), with the key and the reason."""


def check_generators(spec: ExperimentSpec) -> None:
    """Every generator the spec names is registered and its settings are valid (per variant)."""
    for name in spec.generation.per_generator:
        if name not in spec.generators():
            raise GeneratorError(
                f"{spec._source}: generation.per_generator has '{name}', which is not a generator of this spec "
                f"({', '.join(spec.generators())})"
            )
    where = "grid.generator" if spec.grid.generator else "generation.generator"
    for key in ("words", "unknown_exclude"):
        if getattr(spec.generation, key) and not any(
            BACKENDS.get(g) and BACKENDS[g].speech for g in spec.generators()
        ):
            raise GeneratorError(
                f"{spec._source}: generation.{key} is what a speech backend says, but no generator of this spec "
                f"speaks ({', '.join(spec.generators())}): remove it"
            )
    for value in spec.generator_values():
        try:
            check_engines(value)
        except GeneratorError as error:
            raise GeneratorError(f"{spec._source}: {where} {value}: {error}") from None
    for name in spec.generators():
        for variant in spec.variants():
            try:
                check_generation(spec.generation.for_generator(name, variant))
            except GeneratorError as error:
                at = f"{where} {name}" + (f", generation.variants.{variant}" if variant else "")
                raise GeneratorError(f"{spec._source}: {at}: {error}") from None


def prompt_template(spec: ExperimentSpec, recipe: DatasetRecipe, generator: str, strategy: str) -> str | None:
    if not BACKENDS[generator].speech:
        return spec.generation.prompt_template or recipe.prompt_template
    if strategy != "label":
        raise InputError(
            f"strategy '{strategy}' prompts describe sounds, but {generator} says words: use grid.strategy label"
        )
    template = spec.generation.prompt_template or recipe.speech_template
    if template is None:
        raise InputError(
            f"{generator} says words, but dataset {recipe.name} has no spoken-word template; set "
            f"generation.prompt_template to the words to say, such as '{{label}}'"
        )
    if _SOUND_WORDS.search(template):
        raise InputError(
            f"generation.prompt_template '{template}' describes a sound; {generator} would say those words "
            f"aloud. Give the words to say, such as '{{label}}'"
        )
    return template
