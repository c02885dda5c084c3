"""GTZAN genre collection: 1,000 30-second music excerpts in 10 genres (100 each).

G. Tzanetakis and P. Cook, "Musical genre classification of audio signals", IEEE TSAP 2002.
22.05 kHz mono. Distributed as ``genres/<genre>/<genre>.000NN.au`` (the original tarball) or
``genres_original/<genre>/<genre>.000NN.wav`` (the Kaggle copy, in which
``jazz.00054.wav`` is known to be unreadable: it is skipped and reported).

GTZAN has no official split. We use a seeded stratified 70/10/20 split, or a split file:
``<corpus>/splits/{train,valid,test}.txt`` listing one excerpt per line (``blues.00000`` or
``blues/blues.00000.wav``), such as the fault-filtered split of Kereliuk et al.
"""

from __future__ import annotations

from pathlib import Path

from raysynth.datasets.download import download_and_extract
from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset
from raysynth.datasets.sampling import stratified_split

GTZAN_URL = "http://opihi.cs.uvic.ca/sound/genres.tar.gz"
LAYOUT = "genres/<genre>/*.au or genres_original/<genre>/*.wav"
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
GENRE_TEXT = {"hiphop": "hip hop"}


def download_gtzan(target_dir: str | Path, url: str = GTZAN_URL) -> Path:
    return download_and_extract(url, target_dir, "gtzan")


def _find_genres(corpus_dir: Path) -> Path:
    for candidate in (corpus_dir, *sorted(p for p in corpus_dir.glob("**/") if p.is_dir())):
        if candidate.name in ("genres", "genres_original") and any((candidate / g).is_dir() for g in GENRES):
            return candidate
    raise DatasetError(f"{corpus_dir} does not look like GTZAN: expected {LAYOUT}. Source: {GTZAN_URL}")


def _split_file(corpus_dir: Path) -> dict[str, str] | None:
    files = {split: corpus_dir / "splits" / f"{split}.txt" for split in ("train", "valid", "test")}
    if not any(f.is_file() for f in files.values()):
        return None
    assignment = {}
    for split, path in files.items():
        if path.is_file():
            for line in path.read_text().split():
                assignment[Path(line).name.rsplit(".", 1)[0] if line.endswith((".au", ".wav")) else line] = (
                    split
                )
    return assignment


def prepare_gtzan(
    corpus_dir: str | Path, output_dir: str | Path, sample_rate: int = 16000, seed: int = 0
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` (split from ``splits/*.txt`` or seeded stratified)."""
    corpus_dir = Path(corpus_dir)
    genres_dir = _find_genres(corpus_dir)
    files = sorted(p for g in GENRES for p in (genres_dir / g).glob("*") if p.suffix in (".au", ".wav"))
    stems = [p.stem for p in files]
    labels = [p.parent.name for p in files]
    given = _split_file(corpus_dir)
    notes = []
    if given is None:
        splits = stratified_split(stems, labels, seed)
    else:
        splits = {stem: given[stem] for stem in stems if stem in given}
        notes.append(
            f"split from {corpus_dir / 'splits'}; {len(stems) - len(splits)} excerpt(s) not listed, left out"
        )
    sources = [
        ClipSource(
            f"gtzan/{stem}", path, splits[stem], label, GENRES.index(label), GENRE_TEXT.get(label, label)
        )
        for path, stem, label in zip(files, stems, labels, strict=True)
        if stem in splits
    ]
    absent = [g for g in GENRES if not (genres_dir / g).is_dir()]
    if absent:
        notes.append(f"partial corpus: genre folder(s) {', '.join(absent)} absent")
    return write_manifest(
        "gtzan", sources, Path(output_dir), sample_rate, notes=notes, corpus_dir=Path(corpus_dir)
    )


GTZAN = register_dataset(
    DatasetRecipe("gtzan", download_gtzan, prepare_gtzan, "{label} music", LAYOUT, GTZAN_URL)
)
