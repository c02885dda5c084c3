"""``grid.quality_filter``: which synthetic training clips a trial keeps, chosen per class by a score.

Values: ``none`` (the paper: every clip), ``<score>_threshold:<t>`` (clips scoring at least t) and
``<score>_top_fraction:<f>`` (the best f of each class's candidates), with ``<score>`` one of
``clap`` (text-audio similarity to the clip's label prompt), ``teacher`` (the probability a
classifier trained on the real training split gives the clip's own label) and ``asr`` (speech
backends: the posterior with which a speech recognizer hears the clip's own words,
:mod:`raysynth.quality.asr`).

A filtered trial still trains on ``synth_multiplier`` x n clips per class: it draws them from a
larger candidate pool (the first clips by index), which the generation stage makes in advance:
n / f for a top fraction, n x ``quality.oversample`` for a threshold.

>>> parse_filter("teacher_top_fraction:0.5")
QualityFilter(score='teacher', rule='top_fraction', value=0.5)
>>> pool_count(3, parse_filter("teacher_top_fraction:0.5"), oversample=2.0)
6
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

SCORES = ("clap", "teacher", "asr")
# The largest candidate pool a filter may ask for, as a factor of the clips a trial keeps: a top
# fraction of at least 1/MAX_POOL_FACTOR, and quality.oversample up to it.
MAX_POOL_FACTOR = 100
RULES = ("threshold", "top_fraction")
_PATTERN = re.compile(r"^(?P<score>[a-z]+)_(?P<rule>threshold|top_fraction):(?P<value>[-+0-9.eE]+)$")


class QualityShortfall(RuntimeError):
    """Fewer candidates passed a threshold than the trial needs, with the counts per class."""


@dataclass(frozen=True)
class QualityFilter:
    score: str
    rule: str
    value: float


def parse_filter(text: str | None) -> QualityFilter | None:
    """``None`` for ``none`` (or ``None``); raises ``ValueError`` naming the accepted forms otherwise."""
    if text is None or text == "none":
        return None
    match = _PATTERN.match(str(text))
    if match is None or match["score"] not in SCORES:
        raise ValueError(
            f"quality_filter has to be 'none', '<score>_threshold:<t>' or '<score>_top_fraction:<f>' "
            f"with <score> one of {', '.join(SCORES)}, but is {text!r}"
        )
    value = float(match["value"])
    if match["rule"] == "top_fraction" and not 1 / MAX_POOL_FACTOR <= value <= 1:
        raise ValueError(
            f"a top_fraction has to be in [{1 / MAX_POOL_FACTOR:g}, 1] (a pool of at most {MAX_POOL_FACTOR} "
            f"candidates per kept clip), but {text!r} gives {value:g}"
        )
    low = -1.0 if match["score"] == "clap" else 0.0
    if match["rule"] == "threshold" and not low <= value <= 1:
        raise ValueError(
            f"a {match['score']} threshold has to be in [{low:g}, 1], but {text!r} gives {value}"
        )
    return QualityFilter(match["score"], match["rule"], value)


def pool_count(needed: int, quality_filter: QualityFilter | None, oversample: float) -> int:
    """The candidates per class a filter needs to keep ``needed`` clips."""
    if quality_filter is None or needed == 0:
        return needed
    if quality_filter.rule == "top_fraction":
        return math.ceil(round(needed / quality_filter.value, 9))
    return math.ceil(round(needed * oversample, 9))


def select(
    labels: list[str],
    index: list[int],
    scores: np.ndarray,
    needed: dict[str, int],
    quality_filter: QualityFilter,
) -> tuple[np.ndarray, dict[str, int], dict[str, int]]:
    """The rows a filter keeps: per class, the ``needed[label]`` best by score (top fraction), or the
    first ``needed[label]`` by index among those at or above the threshold.

    Args:
        labels, index, scores: one entry per candidate row (the class, its index, its score).
        needed: the clips to keep per class.
        quality_filter: the rule.

    Returns:
        The kept row positions (sorted), and the kept and rejected counts per class.

    Raises:
        QualityShortfall: a threshold left a class with fewer than it needs.
    """
    labels_arr, index_arr = np.asarray(labels), np.asarray(index)
    kept_rows, kept, rejected, short = [], {}, {}, {}
    for label in sorted(needed):
        rows = np.flatnonzero(labels_arr == label)
        if quality_filter.rule == "top_fraction":
            # Best score first; equal scores keep the lower index (stable over reruns).
            order = rows[np.lexsort((index_arr[rows], -scores[rows]))]
            chosen = order[: needed[label]]
        else:
            passing = rows[scores[rows] >= quality_filter.value]
            chosen = passing[np.argsort(index_arr[passing], kind="stable")][: needed[label]]
            if len(chosen) < needed[label]:
                short[label] = (len(passing), needed[label], len(rows))
        kept_rows.append(chosen)
        kept[label], rejected[label] = len(chosen), len(rows) - len(chosen)
    if short:
        detail = ", ".join(f"'{k}' {p}/{n} of {c} candidates" for k, (p, n, c) in sorted(short.items()))
        raise QualityShortfall(
            f"{quality_filter.score}_threshold:{quality_filter.value:g} keeps too few clips: {detail}; "
            f"raise quality.oversample (candidates per kept clip) or lower the threshold"
        )
    return np.sort(np.concatenate(kept_rows)) if kept_rows else np.array([], int), kept, rejected


def own_and_margin(matrix: np.ndarray, label_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a [clips, classes] score matrix (probabilities, similarities): the score of the clip's
    own label, and its margin over the best other label (0 with a single class)."""
    rows = np.arange(len(matrix))
    own = matrix[rows, label_ids]
    others = matrix.astype(np.float64, copy=True)
    others[rows, label_ids] = -np.inf
    margin = own - others.max(axis=1) if matrix.shape[1] > 1 else np.zeros_like(own)
    return own.astype(np.float32), margin.astype(np.float32)
