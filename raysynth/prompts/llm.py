"""LLM-assisted prompts: sound descriptions listed by an LLM for each label, sampled per clip.

``describe_labels`` asks any OpenAI-compatible chat-completions endpoint for ``n`` short sound
characteristics of each label, validates each reply (exactly ``n`` non-empty, distinct items),
retries bad replies, and caches the result on disk with its provenance. The ``openai`` client
itself retries 429s, 5xx and timeouts with exponential backoff.

A clip's prompt samples ``k`` descriptions, seeded by the clip's seed:
``"{label} sound, d1, d2, d3"``.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysynth import workspace

PROMPT_TEMPLATE = (
    "List {n} short, distinct acoustic characteristics of the sound of '{label}', as heard in a "
    "recording (for example its pitch, rhythm, texture, loudness or typical background). Answer "
    "with a JSON array of {n} strings of at most six words each, and nothing else."
)
SHIPPED_DIR = Path(__file__).parent / "descriptions"


class DescriptionError(RuntimeError):
    """An endpoint that keeps failing or replying badly, or a missing description file."""


@dataclass
class DescriptionSet:
    """Descriptions per label text, with how they were made."""

    descriptions: dict[str, list[str]]
    provenance: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path | str) -> Path | str:
        """Write the set whole (a local file, or an object of a work dir on a store)."""
        text = json.dumps({"provenance": self.provenance, "descriptions": self.descriptions}, indent=2)
        workspace.write_bytes(path, text.encode())
        return path

    @classmethod
    def load(cls, path: Path | str) -> DescriptionSet:
        data = workspace.read_bytes(path)
        if data is None:
            raise DescriptionError(
                f"description file {path} does not exist; make it with `python jobs/describe.py` "
                f"(needs an OpenAI-compatible endpoint) or use strategy 'label'"
            )
        raw = json.loads(data)
        return cls(raw["descriptions"], raw.get("provenance", {}))


def shipped_descriptions(dataset: str) -> Path:
    """The description file shipped with the package for a built-in dataset."""
    return SHIPPED_DIR / f"{dataset}.json"


def parse_reply(text: str, n: int) -> list[str]:
    """The ``n`` descriptions in a reply (a JSON array, or a numbered or bulleted list).

    Raises:
        ValueError: the reply does not hold exactly ``n`` non-empty, distinct items.
    """
    text = text.strip()
    match = re.search(r"\[.*\]", text, flags=re.DOTALL)
    items: list[str] | None = None
    if match:
        try:
            parsed = json.loads(match.group(0))
            items = [str(x) for x in parsed] if isinstance(parsed, list) else None
        except json.JSONDecodeError:
            items = None
    if items is None:
        items = [re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line) for line in text.splitlines() if line.strip()]
    cleaned = [" ".join(item.strip().strip("\"'").rstrip(".").split()) for item in items]
    cleaned = [item for item in cleaned if item]
    distinct = list(dict.fromkeys(item.lower() for item in cleaned))
    if len(cleaned) != n or len(distinct) != n:
        raise ValueError(
            f"expected {n} non-empty, distinct items, got {len(cleaned)} ({len(distinct)} distinct)"
        )
    return cleaned


def describe_label(
    client: Any, model: str, label: str, n: int, template: str = PROMPT_TEMPLATE, attempts: int = 3
) -> list[str]:
    """Ask for ``n`` descriptions of one label; a malformed reply is asked again, up to ``attempts``."""
    import openai

    problems = []
    for attempt in range(1, attempts + 1):
        try:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": template.format(label=label, n=n)}],
                temperature=0.7,
            )
        except openai.APIConnectionError as error:  # the client has retried already
            raise DescriptionError(f"cannot reach the endpoint for '{label}': {error}") from error
        except openai.APIStatusError as error:
            raise DescriptionError(
                f"the endpoint kept failing for '{label}': HTTP {error.status_code}"
            ) from error
        content = (reply.choices[0].message.content or "") if reply.choices else ""
        try:
            return parse_reply(content, n)
        except ValueError as error:
            problems.append(f"attempt {attempt}: {error}")
            time.sleep(min(2.0, 0.2 * 2**attempt))
    raise DescriptionError(f"no valid reply for '{label}' after {attempts} attempts: {'; '.join(problems)}")


def describe_labels(
    labels: list[str],
    base_url: str,
    model: str,
    n: int = 10,
    cache: Path | str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 4,
    template: str = PROMPT_TEMPLATE,
) -> DescriptionSet:
    """Descriptions for every label, from the cache where present, else from the endpoint.

    Args:
        labels: label texts ("dog bark").
        base_url: an OpenAI-compatible endpoint ("https://api.openai.com/v1", a vLLM server, ...).
        model: the chat model.
        n: descriptions per label.
        cache: a JSON file; labels already in it (made with the same endpoint, model, template
            and n) are not asked again, and new ones are added as they arrive.
        api_key: the key (callers take it from the environment).
        timeout: seconds per request.
        max_retries: the client's retries on 429, 5xx, timeouts and connection errors (with backoff).
        template: the request, with ``{label}`` and ``{n}``.
    """
    import openai

    if not labels:
        raise DescriptionError("the label list is empty")
    provenance = {
        "method": "llm",
        "endpoint": base_url,
        "model": model,
        "prompt_template": template,
        "n": n,
    }
    existing = DescriptionSet({}, provenance)
    if cache is not None and workspace.is_file(cache):
        loaded = DescriptionSet.load(cache)
        if {k: loaded.provenance.get(k) for k in ("endpoint", "model", "prompt_template", "n")} == {
            k: provenance[k] for k in ("endpoint", "model", "prompt_template", "n")
        }:
            existing = loaded
    client = openai.OpenAI(
        base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries
    )
    for label in labels:
        if label in existing.descriptions:
            continue
        existing.descriptions[label] = describe_label(client, model, label, n, template)
        existing.provenance["date"] = time.strftime("%Y-%m-%d")
        if cache is not None:
            existing.save(workspace.as_location(cache))
    return existing


def llm_prompt(
    label_text: str, descriptions: list[str], k: int, seed: int, template: str = "{label} sound"
) -> str:
    """``"{label} sound, d1, ..., dk"`` with ``k`` descriptions sampled by ``seed`` (without replacement)."""
    if k > len(descriptions):
        raise ValueError(f"k has to be <= the {len(descriptions)} descriptions of '{label_text}', but is {k}")
    chosen = random.Random(seed).sample(descriptions, k)
    return ", ".join([template.format(label=label_text), *chosen])
