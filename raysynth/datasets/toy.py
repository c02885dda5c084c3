"""TEST-ONLY toy corpus: four clearly separable sound classes made in code.

This is not a real corpus. It exists so that ``jobs/sweep.py --smoke-test`` and the tests run
offline in seconds. Labels: beep, chirp, noise burst, click train; 16 clips per class, of
which indices 0-3 are test, 4-5 valid and the rest train.
"""

from __future__ import annotations

from pathlib import Path

from raysynth.datasets.base import (
    ClipSource,
    DatasetError,
    DatasetRecipe,
    PrepareReport,
    register_dataset,
    write_manifest,
)
from raysynth.testing.dummies import TOY_LABELS, make_toy_corpus, make_toy_noise


def download_toy(target_dir: str | Path) -> Path:
    """'Download' the toy corpus and its noise recordings (``toy_noise/``): built in code, no network."""
    make_toy_noise(target_dir)
    return make_toy_corpus(target_dir)


def prepare_toy(corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000) -> PrepareReport:
    """Write ``<output_dir>/toy/manifest.parquet`` from the toy corpus."""
    sources = []
    for label_id, label in enumerate(TOY_LABELS):
        folder = Path(corpus_dir) / label.replace(" ", "_")
        if not folder.is_dir():
            raise DatasetError(f"expected the toy layout {folder}/*.wav; build it with make_toy_corpus()")
        for path in sorted(folder.glob("*.wav")):
            index = int(path.stem.rsplit("_", 1)[1])
            split = "test" if index < 4 else "valid" if index < 6 else "train"
            sources.append(ClipSource(f"toy/{path.stem}", path, split, label, label_id, label))
    return write_manifest("toy", sources, Path(output_dir), sample_rate)


TOY = register_dataset(
    DatasetRecipe(
        name="toy",
        download=download_toy,
        prepare=prepare_toy,
        prompt_template="{label} sound",
        layout="toy/<label>/<label>_<index>.wav",
        url="(built in code by raysynth.testing.make_toy_corpus; test-only)",
        test_only=True,
    )
)
