"""Text-to-speech with eSpeak NG: a real generator that runs offline on any CPU.

eSpeak NG (a formant synthesiser) comes from the PyPI package ``espeakng-loader``, which ships
``libespeak-ng.so`` and its voice data, so the README's two commands set it up with no system
package. It says the label's words (``"seven"``), with the values of each clip drawn from the
configured ranges by the clip's seed: the accent (the English voices eSpeak NG has), the voice
variant (m1-m8, f1-f5 and the named ones), the speaking rate, pitch, pitch range, word gap and
amplitude, and where the speech sits in the clip. The drawn values are stored in each shard row
(``params``), so a clip can be said again from them (:meth:`EspeakGenerator.say`), and a study
can ask which voices helped.

The library keeps one global state per process, part of which carries over from one utterance to
the next. Each generator therefore owns one worker process (:mod:`.espeak_worker`) that loads the
library once and says every clip in a fresh fork of itself, and a lock serialises the requests
to it: a clip never depends on the clips said before it, nor on the thread that asked.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysynth.generators.base import GeneratorError
from raysynth.generators.speech import (
    SpeechBackend,
    check_names,
    check_ranges,
    fixed_model,
    register_speech,
    scaled,
)

if TYPE_CHECKING:
    from raysynth.config import GenerationConfig


def _loader_version() -> str:
    try:
        return metadata.version("espeakng-loader")
    except metadata.PackageNotFoundError:
        return "missing"


# The library's build is the model: its version is part of every clip's recipe, and so is the
# worker's protocol (``seeded-noise``: the noise generator is seeded per clip, not by the time;
# clips of the earlier worker, whose breathy variants differed between runs, never mix in).
WORKER_PROTOCOL = "seeded-noise"
DEFAULT_MODEL_ID = f"espeak-ng/espeakng-loader-{_loader_version()}/{WORKER_PROTOCOL}"
ENGLISH_VOICES = [
    "en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-x-rp", "en-us-nyc",
]  # fmt: skip
SETTINGS = {
    "voices": ENGLISH_VOICES,
    "voice_variants": None,  # None: the plain voice and every variant the library ships
    "rate_wpm": (120.0, 220.0),
    "pitch": (20.0, 80.0),
    "pitch_range": (20.0, 80.0),
    "word_gap": (0.0, 10.0),
    "amplitude": (80.0, 120.0),
    "placement": "random",
    "truncation": "faster",
}


def shipped_variants() -> list[str]:
    """The plain voice (``""``) and every variant in the data ``espeakng-loader`` ships."""
    import espeakng_loader

    folder = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return ["", *sorted(p.name for p in folder.iterdir() if p.is_file() and " " not in p.name)]


def shipped_voices() -> list[str]:
    """The voice (language and accent) names of the data ``espeakng-loader`` ships, lower case."""
    import espeakng_loader

    folder = Path(espeakng_loader.get_data_path()) / "lang"
    return sorted({p.name.lower() for p in folder.rglob("*") if p.is_file()})


# Where eSpeak NG clamps a value, so that a wider range would store values it never used (measured:
# rate 0 gives the audio of 80; pitch and range 100 or 150 give the audio of 99).
ENGINE_RANGES = {"rate_wpm": (80, None), "pitch": (0, 99), "pitch_range": (0, 99), "word_gap": (0, None),
                 "amplitude": (0, None)}  # fmt: skip


def check_settings(config: GenerationConfig) -> None:
    """Voices and variants the library does not ship, and prosody ranges it would clamp, are refused
    before any actor starts (an actor would fail on its first clip, or store values it never used)."""
    check_ranges(config, ENGINE_RANGES, "eSpeak NG (it would clamp the values and store ones it never used)")
    voices = shipped_voices()
    unknown = [v for v in config.voices or [] if v.lower() not in voices]
    if unknown:
        english = [v for v in voices if v.startswith("en")]
        raise GeneratorError(
            f"generation.voices {unknown} are not eSpeak NG voices; its English ones are {english} "
            f"({len(voices)} voices in all)"
        )
    check_names(config.voice_variants, shipped_variants(), "voice_variants", "eSpeak NG variants")


class EspeakWorker:
    """The worker process of one generator, and the lock that serialises its requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Run by path, not as ``-m raysynth...``: the package's imports (torch) would make each fork slow.
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("espeak_worker.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if not line:
            error = self.process.stderr.read().decode(errors="replace").strip().splitlines()
            raise GeneratorError(
                f"eSpeak NG could not start: {error[-1] if error else 'no output'}. It comes from the PyPI "
                f"package espeakng-loader (a dependency of raysynth: `uv sync` installs it)"
            )
        info = json.loads(line)
        self.sample_rate, self.version = int(info["sample_rate"]), str(info["version"])

    def say(self, request: dict[str, Any]) -> np.ndarray:
        """The int16 samples of one request, as float32 in [-1, 1]."""
        payload = json.dumps(request).encode()
        with self.lock:
            self.process.stdin.write(struct.pack("<I", len(payload)) + payload)
            self.process.stdin.flush()
            header = self.process.stdout.read(8)
            if len(header) < 8:
                raise GeneratorError("the eSpeak NG worker stopped answering")
            status, size = struct.unpack("<ii", header)
            data = self.process.stdout.read(size)
        if status != 0:
            raise GeneratorError(data.decode(errors="replace"))
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=10)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release
            pass


class EspeakGenerator(SpeechBackend):
    """eSpeak NG behind the :class:`~raysynth.generators.base.Generator` protocol.

    Args:
        settings: the ranges each clip's values are drawn from (``voices``, ``voice_variants``,
            ``rate_wpm``, ``pitch``, ``pitch_range``, ``word_gap``, ``amplitude``, ``placement``,
            ``truncation``: see :mod:`.speech`).
    """

    name = "tts"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = {**SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
        variants = self.settings["voice_variants"]
        available = shipped_variants()
        check_names(variants, available, "voice_variants", "eSpeak NG variants")
        self.variants = list(variants) if variants is not None else available
        self.worker = EspeakWorker()
        self.sample_rate = self.worker.sample_rate
        self.model_id = DEFAULT_MODEL_ID
        self.truncation = self.settings["truncation"]

    @classmethod
    def from_config(cls, config: GenerationConfig) -> EspeakGenerator:
        fixed_model(config, "tts", DEFAULT_MODEL_ID, "eSpeak NG from espeakng-loader")
        return cls({key: getattr(config, key) for key in SETTINGS})

    def clip_params(self, prompt: str, seed: int) -> dict[str, Any]:
        """The values clip ``seed`` draws from the configured ranges (stored in its shard row)."""
        rng = np.random.default_rng(int(seed))
        draw = lambda key: float(rng.uniform(*self.settings[key]))  # noqa: E731
        voice = str(rng.choice(self.settings["voices"]))
        variant = str(rng.choice(self.variants))
        return {
            "text": prompt,
            "voice": voice + (f"+{variant}" if variant else ""),
            "rate": int(round(draw("rate_wpm"))),
            "pitch": int(round(draw("pitch"))),
            "range": int(round(draw("pitch_range"))),
            "gap": int(round(draw("word_gap"))),
            "amplitude": int(round(draw("amplitude"))),
            "position": float(rng.uniform(0.0, 1.0)),
            "placement": self.settings["placement"],
        }

    def speak(self, params: dict[str, Any]) -> np.ndarray:
        return self.worker.say(
            {k: params[k] for k in ("text", "voice", "rate", "pitch", "range", "gap", "amplitude")}
        )

    def faster(self, params: dict[str, Any], factor: float) -> dict[str, Any]:
        return {**params, "rate": scaled(params["rate"], factor, integer=True)}


register_speech(
    "tts",
    EspeakGenerator.from_config,
    DEFAULT_MODEL_ID,
    settings=SETTINGS,
    check=check_settings,
    licences={
        "engine": "eSpeak NG (GPL-3.0-or-later), from espeakng-loader",
        "voice": "eSpeak NG voice data (GPL-3.0-or-later)",
    },
)
