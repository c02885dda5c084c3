"""Prompts for text-to-audio generators.

Label-guided prompts fill a per-dataset template with the label text:
``"{label} sound"`` for sound events, or, for spoken digits, ``"a person saying the number {label}"``.

>>> label_prompt("dog bark", "{label} sound")
'dog bark sound'
"""

from __future__ import annotations

STRATEGIES = ("label", "llm")
DEFAULT_TEMPLATE = "{label} sound"


def label_prompt(label_text: str, template: str | None = None) -> str:
    """The label-guided prompt for one label.

    Args:
        label_text: the human-readable label ("dog bark", "three").
        template: a format string with a ``{label}`` field; ``None`` uses "{label} sound".
    """
    template = template or DEFAULT_TEMPLATE
    if "{label}" not in template:
        raise ValueError(f"a prompt template has to contain '{{label}}', but is {template!r}")
    return template.format(label=label_text)


def make_prompt(
    strategy: str,
    label_text: str,
    template: str | None = None,
    descriptions: list[str] | None = None,
    seed: int = 0,
    k: int = 3,
) -> str:
    """The prompt for one clip.

    Args:
        strategy: ``label`` ("{label} sound") or ``llm`` ("{label} sound, d1, d2, d3").
        label_text: the label.
        template: the label-guided template.
        descriptions: the label's LLM descriptions (``llm`` only).
        seed: the clip's seed; picks the descriptions.
        k: descriptions per prompt.
    """
    if strategy == "label":
        return label_prompt(label_text, template)
    if strategy == "llm":
        from raysynth.prompts.llm import llm_prompt

        if not descriptions:
            raise ValueError(f"strategy 'llm' needs descriptions for '{label_text}', but none were given")
        return llm_prompt(label_text, descriptions, k, seed, template or DEFAULT_TEMPLATE)
    raise ValueError(f"unknown prompt strategy '{strategy}'; expected one of: {', '.join(STRATEGIES)}")
