"""What a speech backend says for each class, including the classes that are not words.

A keyword spotter's classes are words, plus (in Speech Commands' own names) ``_unknown_``, every
other word, and ``_silence_``, background noise. A text-to-speech backend must never say
"unknown" or "silence" for them:

- ``_unknown_``: each clip says another word, drawn by its seed from the dataset's own
  non-keyword vocabulary (Speech Commands names 25) and a built-in list of common English words
  (:data:`COMMON_WORDS`), never a word any class of the task says, and never one the user lists
  in ``generation.unknown_exclude`` (near-homophones of a keyword: "know" for "no").
- ``_silence_``: never spoken. Its synthetic clips are made in the trial from the training noise
  recordings, or are low-level noise where none is configured (:mod:`raysynth.train.silence`);
  the trial's record says which.
- ``generation.words: {label: [texts]}`` gives a class its words (one drawn per clip), in place of
  its label text. Any other class whose text has nothing to say (no letter or digit, or a marker
  such as ``_unknown_``) is refused before generation, naming the class and this key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

UNKNOWN, SILENCE = "_unknown_", "_silence_"

# Common English words (short, frequent, no digit and no Speech Commands keyword), for unknown clips.
COMMON_WORDS = tuple(
    """
    about after again air all also always animal another answer around away back ball because been
    before began begin being below best better between big black blue boat body book both box boy
    bring brother build but buy call came can car care carry change child city close cold color come
    could country cut dark day did different does done door draw dream drink drive each early earth
    eat end enough even ever every eye face fact family far farm fast father feel feet field find fire
    first fish food foot friend from full game garden gave girl give glass good great green ground
    group grow half hand hard has have head hear heart heavy help here high hold home hope horse hot
    hour idea into island just keep kind king land large last late laugh learn leave letter life light
    like line list little live long look love made make man many map mean men might mile milk mind
    money moon more morning most mother mountain move much music must name near need never new next
    night noise north nothing now number often old only open order other our over page paper park part
    people person picture place plant play point poor power pull push put question quick rain read
    ready real red river road rock room round run said same saw say school sea second see seem sell
    send serve she ship short should show side simple since sing sister sit sleep slow small snow some
    song soon sound south space speak spring stand star start still story street strong study such
    summer sun sure table take talk teacher tell than thank that their them then there these they thing
    think this those thought through time today together told took town travel true turn under until
    very voice walk wall want warm was watch water way week well went were west what when where which
    while white who why wind window winter with without woman wood word work world would write year
    young
    """.split()
)
COMMON_WORDS_ID = hashlib.sha256(" ".join(COMMON_WORDS).encode()).hexdigest()[:12]  # in speech recipes
_MARKER = re.compile(r"^_.*_$")
_SAYABLE = re.compile(r"[^\W_]")  # a letter or a digit: eSpeak NG, Piper and flite read digits aloud


class WordsError(ValueError):
    """A class a speech backend cannot say, named with how to give it words."""


def speakable(text: str) -> bool:
    """Whether ``text`` has words to say: a letter or digit, and no ``_marker_`` such as ``_unknown_``."""
    return bool(_SAYABLE.search(text)) and not any(_MARKER.match(word) for word in text.split())


@dataclass(frozen=True)
class SpeechClasses:
    """What a speech job says per class: texts drawn per clip, and the classes never spoken.

    Attributes:
        texts: per label, the texts a clip draws one of (``_unknown_``: the vocabulary; a class the
            user gave words); a label not here says its template applied to its label text.
        silence: labels never spoken (their clips are noise, made in the trial).
    """

    texts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    silence: tuple[str, ...] = ()

    def record(self) -> dict:
        """What the recipe keeps of it (its clips' prompts depend on all of it)."""
        return {"texts": {k: list(v) for k, v in sorted(self.texts.items())}, "silence": list(self.silence)}


def unknown_vocabulary(
    dataset_words: Iterable[str], keywords: Iterable[str], exclude: Iterable[str]
) -> tuple[str, ...]:
    """The words an ``_unknown_`` clip may say: the dataset's own other words and :data:`COMMON_WORDS`,
    less every word of the task's keywords and the user's exclusions (case-insensitive), sorted."""
    banned = {w.lower() for text in [*keywords, *exclude] for w in text.split()} | {
        t.lower() for t in exclude
    }
    words = {w.lower() for w in [*dataset_words, *COMMON_WORDS]}
    return tuple(sorted(w for w in words if w not in banned and speakable(w)))


def speech_classes(
    classes: Sequence[tuple[str, str]],
    template: str | None,
    words: dict[str, list[str]] | None,
    dataset_words: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> SpeechClasses:
    """What each class of ``(label, label text)`` says, or :class:`WordsError` for one with nothing to say."""
    from raysynth.prompts import label_prompt

    words = words or {}
    extra = sorted(set(words) - {label for label, _ in classes})
    if extra:
        raise WordsError(f"generation.words names {extra}, which are not classes of the dataset")
    texts: dict[str, tuple[str, ...]] = {label: tuple(words[label]) for label, _ in classes if label in words}
    silence = tuple(label for label, _ in classes if label == SILENCE and label not in words)
    said = {label: [label_prompt(text, template)] for label, text in classes if label not in words}
    for label, options in texts.items():
        bad = [t for t in options if not speakable(t)]
        if not options or bad:
            raise WordsError(
                f"generation.words.{label} has to list texts to say, but has {list(options) or 'none'}"
            )
    keywords = [
        t for label, options in {**said, **texts}.items() if label not in (UNKNOWN, SILENCE) for t in options
    ]
    for label, _ in classes:
        if label in texts or label in silence:
            continue
        if label == UNKNOWN:
            texts[label] = unknown_vocabulary(dataset_words, keywords, exclude)
        elif not speakable(said[label][0]):
            raise WordsError(
                f"class '{label}' has nothing a speech backend can say (its text is '{said[label][0]}'); give it "
                f"words with generation.words: {{{label}: [<words to say>]}}"
            )
    return SpeechClasses(texts, silence)
