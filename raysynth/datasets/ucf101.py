"""UCF101 audio subset: the 20 action classes of the paper whose videos carry sound.

K. Soomro, A. R. Zamir and M. Shah, "UCF101: A Dataset of 101 Human Actions Classes From
Videos in The Wild", CRCV-TR-12-01, 2012; https://www.crcv.ucf.edu/data/UCF101.php.
Audio is decoded from the AVI files with PyAV; videos without an audio track are skipped and
counted.

Layout: ``UCF-101/<Class>/v_<Class>_g<group>_c<clip>.avi`` and the official lists
``ucfTrainTestlist/{trainlist0N.txt, testlist0N.txt}`` (N = 1, 2, 3), which keep the 25
groups (same actors, same scene) apart. Validation takes whole groups out of the training
list (seeded), so no group is in two splits.
"""

from __future__ import annotations

import re
from pathlib import Path

from raysynth.audio import load_video_audio
from raysynth.datasets.download import download_and_extract
from raysynth.datasets.manifest import ClipSource, PrepareReport, write_manifest
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_dataset
from raysynth.datasets.sampling import group_split

UCF101_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar"
LIST_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip"
LAYOUT = "UCF-101/<Class>/*.avi and ucfTrainTestlist/{trainlist,testlist}0N.txt"
CLASS_TEXT = {
    "BasketballDunk": "basketball dunk",
    "Bowling": "bowling",
    "BoxingPunchingBag": "boxing punching bag",
    "SoccerPenalty": "soccer penalty",
    "TableTennisShot": "table tennis shot",
    "BandMarching": "band marching",
    "PlayingCello": "playing cello",
    "PlayingDhol": "playing dhol",
    "PlayingFlute": "playing flute",
    "PlayingSitar": "playing sitar",
    "BlowDryHair": "blowing dry hair",
    "BlowingCandles": "blowing candles",
    "BrushingTeeth": "brushing teeth",
    "CuttingInKitchen": "cutting in kitchen",
    "Haircut": "haircut",
    "Hammering": "hammering",
    "Knitting": "knitting",
    "ShavingBeard": "shaving beard",
    "Typing": "typing",
    "WritingOnBoard": "writing on board",
}
CLASSES = list(CLASS_TEXT)
_GROUP = re.compile(r"_g(\d+)_c\d+")


def download_ucf101(target_dir: str | Path) -> Path:
    """Fetch the train/test lists. The videos come as a RAR archive, which must be unpacked by hand."""
    corpus_dir = download_and_extract(LIST_URL, target_dir, "ucf101")
    raise DatasetError(
        f"the split lists are in {corpus_dir}; the videos ship as a RAR archive ({UCF101_URL}), which "
        f"Python cannot unpack without unrar: download it, run `unrar x UCF101.rar {corpus_dir}`, then prepare"
    )


def _read_list(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def prepare_ucf101(
    corpus_dir: str | Path,
    output_dir: str | Path,
    sample_rate: int = 16000,
    split_list: int = 1,
    seed: int = 0,
    on_missing: str = "continue",
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet`` for the 20-class subset and official list ``split_list``."""
    if split_list not in (1, 2, 3):
        raise ValueError(f"split_list has to be 1, 2 or 3, but is {split_list}")
    corpus_dir = Path(corpus_dir)
    videos = next((p for p in [corpus_dir / "UCF-101", *corpus_dir.glob("*/UCF-101")] if p.is_dir()), None)
    lists = next((p.parent for p in corpus_dir.glob(f"**/trainlist0{split_list}.txt")), None)
    if videos is None or lists is None:
        raise DatasetError(f"{corpus_dir} does not look like UCF101: expected {LAYOUT}. Source: {UCF101_URL}")
    train = [e for e in _read_list(lists / f"trainlist0{split_list}.txt") if e.split("/")[0] in CLASS_TEXT]
    test = [e for e in _read_list(lists / f"testlist0{split_list}.txt") if e.split("/")[0] in CLASS_TEXT]
    groups = group_split([_GROUP.search(e).group(1) for e in train], seed, valid=0.12, test=0.0)
    entries = [(e, "valid" if groups[_GROUP.search(e).group(1)] == "valid" else "train") for e in train]
    entries += [(e, "test") for e in test]
    sources = [
        ClipSource(
            id=f"ucf101/{Path(entry).stem}",
            path=videos / entry,
            split=split,
            label=entry.split("/")[0],
            label_id=CLASSES.index(entry.split("/")[0]),
            label_text=CLASS_TEXT[entry.split("/")[0]],
            speaker=f"g{_GROUP.search(entry).group(1)}",
        )
        for entry, split in entries
    ]
    absent = [c for c in CLASSES if not (videos / c).is_dir()]
    notes = [f"partial corpus: class folder(s) {', '.join(absent)} absent"] if absent else []
    unused = [
        (p, "not one of the 20 classes with audio")
        for p in videos.glob("*/*")
        if p.parent.name not in CLASS_TEXT
    ]
    unused += [(p, f"not in official list {split_list}") for c in CLASS_TEXT for p in (videos / c).glob("*")]
    return write_manifest(
        "ucf101", sources, Path(output_dir), sample_rate, on_missing, notes, loader=load_video_audio,
        corpus_dir=videos, unused=unused,
    )  # fmt: skip


UCF101 = register_dataset(
    DatasetRecipe("ucf101", download_ucf101, prepare_ucf101, "{label} sound", LAYOUT, UCF101_URL)
)
