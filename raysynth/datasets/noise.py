"""Noise recordings from any folder (``noise:<dir>``): long files cut into fixed-length segments.

Used for noise augmentation and noisy evaluation. Train and test noise are split by source
file, so no recording is in both: by default a seeded third of the files (at least one) is
test noise, or name the test files explicitly.

>>> prepare_noise("../shared/data/noise_speech_commands/_background_noise_", "work",
...               test_files=["running_tap"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from raysynth.audio import AudioDecodeError, encode_flac, load_audio
from raysynth.datasets.manifest import MANIFEST_NAME, PrepareReport, one_line
from raysynth.datasets.registry import DatasetError, DatasetRecipe, register_prefix
from raysynth.datasets.sampling import group_split
from raysynth.schemas import (
    REAL_MANIFEST_SCHEMA,
    class_names_of,
    file_id,
    with_hf_features,
    with_manifest_record,
    write_table_atomic,
)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".au", ".aiff")


def noise_name(directory: str | Path) -> str:
    """The dataset name of a noise folder: ``noise_<folder name>`` (a folder named ``noise_x`` stays ``noise_x``)."""
    name = Path(directory).name.strip("_") or "dir"
    return name if name.startswith("noise_") else f"noise_{name}"


def prepare_noise(
    directory: str | Path,
    output_dir: str | Path,
    sample_rate: int = 16000,
    segment_seconds: float = 5.0,
    test_files: list[str] | None = None,
    seed: int = 0,
) -> PrepareReport:
    """Write ``<output_dir>/manifest.parquet``: segments, split train/test by source file.

    Args:
        directory: a folder of noise recordings.
        output_dir: where the manifest goes.
        sample_rate: target rate.
        segment_seconds: segment length; a file's last partial segment is kept if at least half long.
        test_files: file stems held out as test noise; default a seeded third of the files.
        seed: seed of the default file split.
    """
    directory = Path(directory)
    files = sorted(p for p in directory.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DatasetError(f"{directory} holds no audio files ({', '.join(AUDIO_SUFFIXES)}) to use as noise")
    name = noise_name(directory)
    if test_files is None:
        assignment = group_split([p.stem for p in files], seed, valid=0.0, test=1 / 3)
    else:
        unknown = sorted(set(test_files) - {p.stem for p in files})
        if unknown:
            raise DatasetError(
                f"test noise file(s) {unknown} are not in {directory}; have {[p.stem for p in files]}"
            )
        assignment = {p.stem: "test" if p.stem in test_files else "train" for p in files}
    report = PrepareReport(dataset=name, manifest=Path(output_dir) / MANIFEST_NAME)
    rows, segment = [], int(segment_seconds * sample_rate)
    for label_id, path in enumerate(files):
        try:
            decoded = load_audio(path, sample_rate)
        except AudioDecodeError as error:
            report.skipped.append((path.name, one_line(error)))
            continue
        if decoded.wave.size == 0 or not np.any(decoded.wave):
            report.skipped.append((path.name, "empty or silent: its SNR would be undefined"))
            continue
        source_id = file_id(path)
        report.orig_sample_rates[decoded.orig_sample_rate] = (
            report.orig_sample_rates.get(decoded.orig_sample_rate, 0) + 1
        )
        report.orig_channels[decoded.orig_channels] = report.orig_channels.get(decoded.orig_channels, 0) + 1
        for index, start in enumerate(range(0, decoded.wave.size, segment)):
            piece = decoded.wave[start : start + segment]
            if piece.size < segment // 2 or not np.any(piece):
                continue
            rows.append(
                {
                    "id": f"{name}/{path.stem}/{index}",
                    "dataset": name,
                    "split": assignment[path.stem],
                    "label": path.stem,
                    "label_id": label_id,
                    "label_text": path.stem.replace("_", " "),
                    "audio": {"bytes": encode_flac(piece, sample_rate), "path": path.name},
                    "sample_rate": sample_rate,
                    "num_samples": piece.size,
                    "speaker": path.stem,
                    "orig_sample_rate": decoded.orig_sample_rate,
                    "orig_channels": decoded.orig_channels,
                    "source_id": source_id,
                }
            )
            report.total_seconds += piece.size / sample_rate
    if not rows:
        raise DatasetError(f"{directory}: no usable noise ({len(report.skipped)} file(s) skipped)")
    table = pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA)
    names = class_names_of((row["label_id"], row["label"]) for row in rows)
    write_table_atomic(
        with_manifest_record(with_hf_features(table, sample_rate, names), names), report.manifest
    )
    report.clips = len(rows)
    for row in rows:
        report.per_split[row["split"]] = report.per_split.get(row["split"], 0) + 1
        report.per_class[row["label"]] = report.per_class.get(row["label"], 0) + 1
    report.notes.append(
        "test noise: " + ", ".join(sorted({r["label"] for r in rows if r["split"] == "test"}))
    )
    return report


def noise_recipe(directory: str) -> DatasetRecipe:
    """The recipe of ``noise:<directory>``: any folder of noise recordings, prepared where it is."""
    folder = Path(directory).expanduser()

    def download(target_dir: Path) -> Path:
        raise DatasetError(f"noise folders are not downloaded; {folder} has to exist")

    return DatasetRecipe(
        noise_name(folder), download, prepare_noise, "{label} noise", f"{folder}/*.wav", str(folder),
        corpus_dir=folder,
    )  # fmt: skip


register_prefix("noise:", noise_recipe)
