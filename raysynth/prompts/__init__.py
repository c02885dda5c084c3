"""Prompts for text-to-audio generators.

Label-guided prompts fill a per-dataset template with the label text:
``"{label} sound"`` for sound events, or, for spoken digits, ``"a person saying the number {label}"``.

>>> label_prompt("dog bark", "{label} sound")
'dog bark sound'
"""

from __future__ import annotations

STRATEGIES = ("label",)
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


def make_prompt(strategy: str, label_text: str, template: str | None = None) -> str:
    """The prompt for ``strategy``; only ``label`` exists so far."""
    if strategy == "label":
        return label_prompt(label_text, template)
    raise ValueError(f"unknown prompt strategy '{strategy}'; expected one of: {', '.join(STRATEGIES)}")
