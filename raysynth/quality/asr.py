"""The ``asr`` quality score: does a speech recognizer hear the clip's own words?

CMU PocketSphinx (the PyPI wheel ``pocketsphinx``, BSD, with its US English acoustic model and
dictionary inside) decodes each clip in grammar mode: a JSGF grammar of the task's words (each
class's text, :attr:`~raysynth.quality.scoring.ScoreJob.prompts`), plus the clip's own text where
it is none of them (an ``_unknown_`` clip's drawn word is scored against itself). The recognizer
returns its best word and that word's posterior probability:

- ``score``: the posterior of the clip's own text when it is the best word, else 0;
- ``margin``: that posterior when the best word is the clip's own, else minus the posterior of the
  other word it heard.

So ``asr_top_fraction:0.5`` keeps each class's clips the recognizer hears best as their own words
(arXiv 2409.12745 drops unintelligible TTS clips this way), and ``asr_threshold:0.5`` keeps those
heard as their own with a posterior of at least 0.5.
"""

from __future__ import annotations

import re

import numpy as np

SAMPLE_RATE = 16000
_WORD = re.compile(r"[^a-z' ]")
MISSING = (
    "the asr score needs the PyPI package pocketsphinx (a dependency of raysynth: `uv sync` installs it)"
)


def _words(text: str) -> str:
    """A text as a grammar alternative: lower case, letters, apostrophes and spaces only."""
    return " ".join(_WORD.sub(" ", text.lower()).split())


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pocketsphinx")
    except metadata.PackageNotFoundError:
        return "missing"


class AsrScorer:
    """PocketSphinx in grammar mode over ``words`` (the task's texts)."""

    def __init__(self, words: list[str]) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as error:
            raise RuntimeError(f"{MISSING} ({error})") from None
        config = Decoder.default_config()
        config["loglevel"] = "FATAL"
        self.decoder = Decoder(config)
        self.words = sorted({w for w in (_words(t) for t in words) if w})
        self.searches: dict[tuple[str, ...], str] = {}

    def _search(self, extra: str) -> str:
        options = tuple(sorted({*self.words, extra} - {""}))
        if options not in self.searches:
            known = [w for w in options if all(self.decoder.lookup_word(p) for p in w.split())]
            name = f"g{len(self.searches)}"
            grammar = "#JSGF V1.0;\ngrammar task;\npublic <w> = " + " | ".join(known or ["<VOID>"]) + " ;\n"
            self.decoder.add_jsgf_string(name, grammar)
            self.searches[options] = name
        return self.searches[options]

    def hear(self, wave: np.ndarray, text: str) -> tuple[str, float]:
        """The best word of the grammar (the task's words and ``text``) for 16 kHz ``wave``, and its posterior."""
        self.decoder.activate_search(self._search(_words(text)))
        pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        if hypothesis is None or not hypothesis.hypstr:
            return "", 0.0
        return _words(hypothesis.hypstr), float(hypothesis.prob)

    def score(self, waves: np.ndarray, sample_rate: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(score, margin)`` of each clip for its own text (see the module docstring)."""
        from raysynth.audio import resample

        score, margin = np.zeros(len(waves), np.float32), np.zeros(len(waves), np.float32)
        for i, (wave, text) in enumerate(zip(waves, texts, strict=True)):
            heard, posterior = self.hear(resample(wave, sample_rate, SAMPLE_RATE), text)
            own = heard == _words(text)
            score[i] = posterior if own else 0.0
            margin[i] = posterior if own else -posterior
        return score, margin
