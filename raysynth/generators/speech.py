"""What every text-to-speech backend shares: trimming, placement in the clip, and speech too long for it.

A speech backend draws each clip's values from its seed (:meth:`SpeechBackend.clip_params`), says
the words (:meth:`SpeechBackend.speak`), trims the silence the engine puts around them and places
them in the clip. Speech longer than the clip would be cut, and a cut word is another word, so what
happens then is the user's choice (``generation.truncation``, part of the recipe):

- ``faster`` (the default): the same voice says it again faster (the backend's tempo value scaled
  by how much it overran), up to :data:`MAX_SPEEDUPS` times; what still does not fit is cut and
  counted;
- ``redraw``: the clip counts as a bad clip, and is drawn again with the next seed (as NaN or silent
  clips are, up to ``generation.max_regenerations``), then dropped and counted if it still overruns;
- ``keep``: cut at the end of the clip, and counted.

Every clip's stored values (its shard row's ``params``) are the ones it was said with, after any
speed-up, with ``speech_s`` (the trimmed speech's length) and ``cut_s`` (the seconds cut off, 0
when it fit), so a shard says per clip whether its word is whole, and the same values say it again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np

TRUNCATION = ("faster", "redraw", "keep")
MAX_SPEEDUPS = 4
SPEEDUP_MARGIN = 1.03  # a little faster than the overrun, so that one speed-up usually suffices
EDGE_THRESHOLD = 0.01  # of the peak: below it, leading and trailing samples are silence
EDGE_MARGIN_S = 0.01
_RECORDS_KEPT = 8192  # the values of the clips generated last, for the shard writer to store


def trim(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """``wave`` without the silence the engine puts before and after the speech (10 ms kept each side)."""
    loud = np.flatnonzero(np.abs(wave) > EDGE_THRESHOLD * (np.abs(wave).max(initial=0.0) + 1e-12))
    if loud.size == 0:
        return wave
    margin = int(EDGE_MARGIN_S * sample_rate)
    return wave[max(0, loud[0] - margin) : loud[-1] + 1 + margin]


def place(speech: np.ndarray, num_samples: int, position: float, placement: str) -> np.ndarray:
    """``speech`` inside a clip of ``num_samples``: at its start, centred, or at ``position`` (0-1) of the room left."""
    if speech.size >= num_samples:
        return speech[:num_samples].astype(np.float32)
    room = num_samples - speech.size
    offset = {"start": 0, "center": room // 2}.get(placement, int(round(position * room)))
    clip = np.zeros(num_samples, dtype=np.float32)
    clip[offset : offset + speech.size] = speech
    return clip


class SpeechBackend:
    """The shared part of a speech backend. Subclasses set ``name``, ``model_id``, ``sample_rate`` and
    ``truncation``, and give :meth:`clip_params`, :meth:`speak` and :meth:`faster`."""

    name: str
    model_id: str
    sample_rate: int
    truncation: str = "faster"

    def clip_params(self, prompt: str, seed: int) -> dict[str, Any]:
        """The values clip ``seed`` draws from the configured ranges (with ``position`` and ``placement``)."""
        raise NotImplementedError

    def speak(self, params: dict[str, Any]) -> np.ndarray:
        """The engine's float32 samples for ``params``, at ``sample_rate``, silence around them included."""
        raise NotImplementedError

    def faster(self, params: dict[str, Any], factor: float) -> dict[str, Any]:
        """``params`` said ``factor`` times faster (its tempo value scaled)."""
        raise NotImplementedError

    def render(self, params: dict[str, Any], duration_s: float, policy: str | None = None):
        """``(clip, record)``: the clip of ``params`` under the truncation policy, and the values it was
        said with (``speech_s``, ``cut_s`` and ``speedups`` added)."""
        policy = policy or self.truncation
        num_samples = int(round(duration_s * self.sample_rate))
        values = {k: v for k, v in params.items() if k not in ("speech_s", "cut_s", "speedups")}
        speech = trim(self.speak(values), self.sample_rate)
        speedups = int(params.get("speedups", 0))
        while policy == "faster" and speech.size > num_samples and speedups < MAX_SPEEDUPS:
            values = self.faster(values, speech.size / num_samples * SPEEDUP_MARGIN)
            speech = trim(self.speak(values), self.sample_rate)
            speedups += 1
        record = {
            **values,
            "speech_s": round(speech.size / self.sample_rate, 4),
            "cut_s": round(max(0, speech.size - num_samples) / self.sample_rate, 4),
            "speedups": speedups,
        }
        return place(speech, num_samples, values["position"], values["placement"]), record

    def say(self, params: dict[str, Any], duration_s: float) -> np.ndarray:
        """The clip of stored ``params`` (a shard row's ``params``, or :meth:`clip_params`), as stored:
        values already sped up are said as they are, never sped up again."""
        policy = "keep" if "speedups" in params else None
        return self.render(params, duration_s, policy)[0]

    def generate(self, prompts: list[str], seeds: list[int], duration_s: float) -> list[np.ndarray]:
        """One clip per prompt; clip b depends only on its prompt and ``seeds[b]``."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds")
        records = self.__dict__.setdefault("_records", OrderedDict())
        clips = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            clip, record = self.render(self.clip_params(prompt, seed), duration_s)
            records[(prompt, int(seed))] = record
            records.move_to_end((prompt, int(seed)))
            clips.append(clip)
        while len(records) > _RECORDS_KEPT:
            records.popitem(last=False)
        return clips

    def clip_record(self, prompt: str, seed: int) -> dict[str, Any]:
        """The values clip ``seed`` of ``prompt`` was last generated with (drawn again if it never was)."""
        record = self.__dict__.get("_records", {}).get((prompt, int(seed)))
        return dict(record) if record is not None else self.clip_params(prompt, seed)

    def overran(self, prompt: str, seed: int) -> bool:
        """Whether that clip's speech was cut and the policy draws such clips again."""
        return self.truncation == "redraw" and self.clip_record(prompt, seed).get("cut_s", 0) > 0


def check_ranges(config: Any, ranges: dict[str, tuple[float, float | None]], engine: str) -> None:
    """Refuse a configured ``(low, high)`` range outside what ``engine`` uses (``None``: no upper end)."""
    from raysynth.generators.base import GeneratorError

    for key, (low, high) in ranges.items():
        value = getattr(config, key)
        if value is not None and (value[0] < low or (high is not None and value[1] > high)):
            accepted = f"[{low}, {high}]" if high is not None else f">= {low}"
            raise GeneratorError(
                f"generation.{key} {[float(v) for v in value]} is outside what {engine} uses ({accepted})"
            )


def check_names(given: list[str] | None, known: list[str], key: str, what: str) -> None:
    """Refuse names (voices, variants) the engine does not have, listing the ones it has."""
    from raysynth.generators.base import GeneratorError

    unknown = sorted(set(given or []) - set(known))
    if unknown:
        raise GeneratorError(f"generation.{key} {unknown} are not {what}; it has {list(known)}")


def fixed_model(config: Any, name: str, model_id: str, what: str) -> None:
    """An engine whose model cannot be chosen refuses a ``generation.model_id`` other than its own."""
    from raysynth.generators.base import GeneratorError

    if config.model_id not in (None, model_id):
        raise GeneratorError(
            f"{name} is {what} ({model_id}); generation.model_id '{config.model_id}' cannot choose another "
            f"model: leave it unset"
        )


def register_speech(name: str, factory, model_id: str, **info) -> None:
    """Register a speech backend: a CPU engine (no GPU), its real model small enough for the tests to
    use as it is (its tiny id is its own), clips up to 30 s."""
    from raysynth.generators.base import register_generator

    defaults = dict(max_duration_s=30.0, batch_size=64, num_gpus=0.0, speech=True)
    register_generator(name, default_model_id=model_id, tiny_model_id=model_id, **{**defaults, **info})(
        factory
    )


def scaled(value: float, factor: float, integer: bool = False) -> float:
    """``value`` times ``factor``, rounded up to an integer when the engine takes integers."""
    return int(math.ceil(value * factor)) if integer else float(value * factor)
