"""CMU Flite: a small engine with four distinct US English speakers, run as one process per clip.

Flite comes from Debian's ``flite`` package (PyPI has none), so it is optional: a spec that names
it on a machine without the ``flite`` program stops before any work, saying
``apt-get install flite``. Its voices are kal16 (a diphone voice) and awb, rms and slt
(clustergen voices), all at 16 kHz; the 8 kHz ``kal`` is left out.

Per clip, seeded and stored in the shard row: the voice, ``duration_stretch`` (tempo), and the
intonation targets ``int_f0_target_mean`` (the voice's own mean times a drawn ``f0_scale``) and
``int_f0_target_stddev``. rms ignores both intonation targets (measured: bit-identical audio at
any value), so its clips store none. Flite has no random state: the same values give the same
samples in any process.

One process per clip costs about 15 ms (50-120 clips/s a core, measured); a ctypes binding of
``libflite`` would save most of it, but flite keeps its settings in each voice's global feature
set, and a process per clip keeps one clip from ever depending on the one before.
"""

from __future__ import annotations

import io
import shutil
import subprocess
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

# The voices' own intonation targets (flite 2.2 sources), which f0_scale multiplies; None: ignored.
VOICE_F0 = {"kal16": 110.0, "awb": 127.0, "rms": None, "slt": 170.0}
SETTINGS = {
    "voices": list(VOICE_F0),
    "duration_stretch": (0.85, 1.25),
    "f0_scale": (0.85, 1.2),
    "f0_stddev": (8.0, 30.0),
    "placement": "random",
    "truncation": "faster",
}
ENGINE_RANGES = {"duration_stretch": (0.1, 10.0), "f0_scale": (0.25, 4.0), "f0_stddev": (0.0, 200.0)}
LICENCES = {
    "engine": "CMU Flite 2.2 (BSD-style CMU licence, Debian package flite)",
    "voice": "CMU kal16, awb, rms, slt (BSD-style CMU licence, shipped with flite)",
}
DEFAULT_MODEL_ID = "cmu/flite-2.2"  # the version is the model: clips of another one never mix in
INSTALL = "flite is not installed: apt-get install flite (Debian/Ubuntu; PyPI has no flite)"


def _program() -> str:
    program = shutil.which("flite")
    if program is None:
        raise GeneratorError(INSTALL)
    return program


def _version(program: str) -> str:
    out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30).stdout
    return next((word for word in out.split() if word.startswith("flite-")), "flite-unknown")


def check_settings(config: GenerationConfig) -> None:
    """The program must be there, and the voices and ranges ones flite has, before any actor starts."""
    _program()
    check_names(config.voices, list(VOICE_F0), "voices", "flite voices of raysynth")
    check_ranges(config, ENGINE_RANGES, "flite")


class FliteGenerator(SpeechBackend):
    """CMU Flite behind the :class:`~raysynth.generators.base.Generator` protocol.

    Args:
        settings: ``voices``, the ranges ``duration_stretch``, ``f0_scale`` and ``f0_stddev``,
            ``placement`` and ``truncation`` (see :mod:`.speech`).
    """

    name = "flite"
    sample_rate = 16000

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = {**SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
        self.truncation = self.settings["truncation"]
        self.program = _program()
        version = _version(self.program)
        if not version.startswith(DEFAULT_MODEL_ID.split("/")[1]):
            raise GeneratorError(
                f"this machine has {version}; raysynth's flite clips are made with {DEFAULT_MODEL_ID}"
            )
        self.model_id = DEFAULT_MODEL_ID

    @classmethod
    def from_config(cls, config: GenerationConfig) -> FliteGenerator:
        fixed_model(config, "flite", DEFAULT_MODEL_ID, "the flite program on this machine")
        return cls({key: getattr(config, key) for key in SETTINGS})

    def clip_params(self, prompt: str, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(int(seed))
        voice = str(rng.choice(self.settings["voices"]))
        stretch = round(float(rng.uniform(*self.settings["duration_stretch"])), 4)
        f0_scale, f0_stddev = (
            round(float(rng.uniform(*self.settings[k])), 4) for k in ("f0_scale", "f0_stddev")
        )
        mean = VOICE_F0[voice]
        return {
            "text": prompt,
            "voice": voice,
            "duration_stretch": stretch,
            "int_f0_target_mean": round(mean * f0_scale, 2) if mean is not None else None,
            "int_f0_target_stddev": f0_stddev if mean is not None else None,
            "position": float(rng.uniform(0.0, 1.0)),
            "placement": self.settings["placement"],
        }

    def speak(self, params: dict[str, Any]) -> np.ndarray:
        import soundfile as sf

        command = [
            self.program,
            "-voice",
            params["voice"],
            "--setf",
            f"duration_stretch={params['duration_stretch']}",
        ]
        for key in ("int_f0_target_mean", "int_f0_target_stddev"):
            if params.get(key) is not None:
                command += ["--setf", f"{key}={params[key]}"]
        command += ["-t", params["text"], "-o", "/dev/stdout"]
        done = subprocess.run(command, capture_output=True, timeout=120)
        if done.returncode != 0 or not done.stdout:
            raise GeneratorError(
                f"flite failed for {params}: {done.stderr.decode(errors='replace').strip()[-300:]}"
            )
        wave, rate = sf.read(io.BytesIO(done.stdout), dtype="float32")
        if rate != self.sample_rate:
            raise GeneratorError(f"flite voice {params['voice']} gave {rate} Hz, not {self.sample_rate}")
        return wave.reshape(-1)

    def faster(self, params: dict[str, Any], factor: float) -> dict[str, Any]:
        return {**params, "duration_stretch": round(scaled(params["duration_stretch"], 1.0 / factor), 4)}


register_speech(
    "flite",
    FliteGenerator.from_config,
    DEFAULT_MODEL_ID,
    settings=SETTINGS,
    check=check_settings,
    licences=LICENCES,
)
