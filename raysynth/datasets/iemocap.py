"""IEMOCAP, emotional speech (Busso et al., 2008; licence by request, https://sail.usc.edu/iemocap/):
``IEMOCAP_full_release/Session{1..5}/sentences/wav/<dialog>/<utt>.wav`` and
``Session{n}/dialog/EmoEvaluation/<dialog>.txt`` with lines ``[start -
end]<TAB><utt><TAB><emo><TAB>[v, a, d]``. The 4-class standard: neutral, happy (happy + excited),
angry, sad; split = session ("1" ... "5", leave-one-session-out).
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import (
    EMOTION_TEMPLATE,
    DatasetError,
    DatasetRecipe,
    manual_download,
    register_dataset,
)

IEMOCAP_URL = "https://sail.usc.edu/iemocap/"
IEMOCAP_LAYOUT = "IEMOCAP_full_release/Session1..5/{sentences/wav/<dialog>/*.wav, dialog/EmoEvaluation/*.txt}"
IEMOCAP_MAP = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
IEMOCAP_LABELS = ["neutral", "happy", "angry", "sad"]
_IEMOCAP_LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(?P<utt>Ses\w+)\t(?P<emo>\w+)\t")


def prepare_iemocap(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, on_missing: str = "fail"
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (4 classes, split = session)."""
    corpus_dir = Path(corpus_dir)
    root = next(
        (
            p
            for p in [corpus_dir, *corpus_dir.glob("*")]
            if (p / "Session1").is_dir() or list(p.glob("Session[1-5]"))
        ),
        None,
    )
    if root is None:
        raise DatasetError(
            f"{corpus_dir} does not look like IEMOCAP: expected {IEMOCAP_LAYOUT}. Source: {IEMOCAP_URL}"
        )
    sources, notes = [], []
    for session in range(1, 6):
        folder = root / f"Session{session}"
        if not folder.is_dir():
            notes.append(f"partial corpus: Session{session} absent")
            continue
        for evaluation in sorted((folder / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in evaluation.read_text(errors="replace").splitlines():
                match = _IEMOCAP_LINE.match(line)
                if not match or match["emo"] not in IEMOCAP_MAP:
                    continue
                utt, label = match["utt"], IEMOCAP_MAP[match["emo"]]
                dialog = utt.rsplit("_", 1)[0]
                sources.append(
                    ClipSource(
                        f"iemocap/{utt}",
                        folder / "sentences" / "wav" / dialog / f"{utt}.wav",
                        str(session),
                        label,
                        IEMOCAP_LABELS.index(label),
                        label,
                        f"Ses{session:02d}{utt.rsplit('_', 1)[1][0]}",
                    )
                )
    return write_manifest(
        "iemocap", sources, Path(output_dir), sample_rate, on_missing, notes, corpus_dir=root
    )


IEMOCAP = register_dataset(
    DatasetRecipe(
        "iemocap",
        manual_download("IEMOCAP", IEMOCAP_URL),
        prepare_iemocap,
        EMOTION_TEMPLATE,
        IEMOCAP_LAYOUT,
        IEMOCAP_URL,
        folds=5,
    )
)
