"""What every recipe shares: the registry, the manifest writer, downloads and safe extraction."""

from __future__ import annotations

import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from raysynth.audio import AudioDecodeError, Decoded, encode_flac, load_audio
from raysynth.schemas import REAL_MANIFEST_SCHEMA, check_schema, write_table_atomic

MANIFEST_NAME = "manifest.parquet"


class DatasetError(RuntimeError):
    """A corpus that is missing, incomplete or laid out differently from what the recipe reads."""


@dataclass(frozen=True)
class DatasetRecipe:
    """One corpus: how to fetch it, how to turn it into a manifest, how to prompt for its labels.

    Attributes:
        name: registry key, also the corpus folder under the data root.
        download: ``download(target_dir) -> corpus_dir``.
        prepare: ``prepare(corpus_dir, output_dir, sample_rate) -> PrepareReport``.
        prompt_template: label-guided prompt, formatted with ``label`` (the label text).
        layout: the official layout the recipe reads, shown when the root is wrong.
        url: where a user obtains the corpus.
        test_only: data made in code for tests and the smoke preset, not a real corpus.
        folds: the number of official folds where ``split`` holds fold numbers ("1", "2", ...);
            0 where it holds train/valid/test.
        corpus_dir: a fixed corpus location (``noise:<dir>``); ``None``: ``<data_root>/<name>``.
    """

    name: str
    download: Callable[[Path], Path]
    prepare: Callable[..., PrepareReport]
    prompt_template: str
    layout: str
    url: str
    test_only: bool = False
    folds: int = 0
    corpus_dir: Path | None = None


DATASETS: dict[str, DatasetRecipe] = {}


def register_dataset(recipe: DatasetRecipe) -> DatasetRecipe:
    if recipe.name in DATASETS:
        raise ValueError(f"dataset '{recipe.name}' is registered twice")
    DATASETS[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> DatasetRecipe:
    """The registered recipe for ``name``, or a ``KeyError`` that lists the registered names.

    ``noise:<dir>`` gives a recipe for any folder of noise recordings.
    """
    if name.startswith("noise:"):
        from raysynth.datasets.noise import noise_name, prepare_noise

        directory = Path(name.split(":", 1)[1]).expanduser()

        def download(target_dir: Path) -> Path:
            raise DatasetError(f"noise folders are not downloaded; {directory} has to exist")

        return DatasetRecipe(
            noise_name(directory), download, prepare_noise, "{label} noise", f"{directory}/*.wav",
            str(directory), corpus_dir=directory,
        )  # fmt: skip
    if name not in DATASETS:
        raise KeyError(f"unknown dataset '{name}'; registered datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


@dataclass
class ClipSource:
    """One audio file found in a corpus, with its labels and split."""

    id: str
    path: Path
    split: str
    label: str
    label_id: int
    label_text: str
    speaker: str | None = None
    virtual: bool = False  # made by the recipe's loader (e.g. a crop of a noise file), no file of its own

    def exists(self) -> bool:
        return self.virtual or self.path.exists()


@dataclass
class PrepareReport:
    """What ``prepare_<name>`` wrote and what it had to skip."""

    dataset: str
    manifest: Path
    clips: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    per_split: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, int] = field(default_factory=dict)
    total_seconds: float = 0.0
    orig_sample_rates: dict[int, int] = field(default_factory=dict)
    orig_channels: dict[int, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.dataset}: {self.clips} clips, {self.total_seconds / 60:.1f} min -> {self.manifest}",
            "  per split: " + ", ".join(f"{k}={v}" for k, v in sorted(self.per_split.items())),
            "  per class: " + ", ".join(f"{k}={v}" for k, v in sorted(self.per_class.items())),
            "  original sample rates: "
            + ", ".join(f"{k} Hz x{v}" for k, v in self.orig_sample_rates.items()),
            "  original channels: " + ", ".join(f"{k} ch x{v}" for k, v in self.orig_channels.items()),
        ]
        if self.skipped:
            first = "; ".join(f"{name} ({why})" for name, why in self.skipped[:5])
            lines.append(f"  skipped {len(self.skipped)} unreadable or empty file(s), first: {first}")
        if self.missing:
            lines.append(
                f"  {len(self.missing)} metadata row(s) without audio, first: {', '.join(self.missing[:5])}"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


ON_MISSING = ("fail", "continue")


def write_manifest(
    dataset: str,
    sources: Iterable[ClipSource],
    output_dir: Path,
    sample_rate: int,
    on_missing: str = "fail",
    notes: Iterable[str] = (),
    loader: Callable[[Path, int], Decoded] = load_audio,
) -> PrepareReport:
    """Decode, resample and FLAC-encode every source into ``<output_dir>/<dataset>/manifest.parquet``.

    Unreadable or empty files are skipped and counted in the report, never fatal. Sources whose
    file does not exist (a metadata row without audio) fail the run with ``on_missing="fail"``,
    or are counted and left out with ``"continue"``.
    """
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing has to be one of {ON_MISSING}, but is {on_missing!r}")
    manifest = Path(output_dir) / dataset / MANIFEST_NAME
    report = PrepareReport(dataset=dataset, manifest=manifest, notes=list(notes))
    sources = list(sources)
    report.missing = [str(s.path.name) for s in sources if not s.exists()]
    if report.missing and on_missing == "fail":
        raise DatasetError(
            f"{dataset}: {len(report.missing)} metadata row(s) point at audio that does not exist, first: "
            f"{', '.join(report.missing[:5])}. Pass --on-missing continue to prepare the rest."
        )
    rows: list[dict] = []
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    for source in sources:
        if not source.exists():
            continue
        try:
            decoded = loader(source.path, sample_rate)
        except AudioDecodeError as error:
            report.skipped.append((source.path.name, str(error).splitlines()[0][-80:]))
            continue
        if decoded.wave.size == 0:
            report.skipped.append((source.path.name, "zero-length audio"))
            continue
        rates[decoded.orig_sample_rate] += 1
        channels[decoded.orig_channels] += 1
        rows.append(
            {
                "id": source.id,
                "dataset": dataset,
                "split": source.split,
                "label": source.label,
                "label_id": source.label_id,
                "label_text": source.label_text,
                "audio": {"bytes": encode_flac(decoded.wave, sample_rate), "path": source.path.name},
                "sample_rate": sample_rate,
                "num_samples": int(decoded.wave.size),
                "speaker": source.speaker,
                "orig_sample_rate": decoded.orig_sample_rate,
                "orig_channels": decoded.orig_channels,
            }
        )
        report.total_seconds += decoded.wave.size / sample_rate
    if not rows:
        raise DatasetError(
            f"{dataset}: no readable audio among the corpus files ({len(report.skipped)} skipped)"
        )
    write_table_atomic(pa.Table.from_pylist(rows, schema=REAL_MANIFEST_SCHEMA), manifest)
    report.clips = len(rows)
    report.per_split = dict(Counter(row["split"] for row in rows))
    report.per_class = dict(Counter(row["label"] for row in rows))
    report.orig_sample_rates = dict(rates)
    report.orig_channels = dict(channels)
    return report


def read_manifest(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a real manifest, checking it against the schema."""
    if not Path(path).is_file():
        raise DatasetError(f"manifest {path} does not exist; run `python jobs/prepare.py <dataset>` first")
    check_schema(pq.read_schema(path), REAL_MANIFEST_SCHEMA, str(path))
    return pq.read_table(path, columns=columns)


def download_file(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``target`` (through a temporary name), with a clear error offline."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".part-{target.name}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        tmp.unlink(missing_ok=True)
        raise DatasetError(
            f"cannot download {url}: {error}. This needs network access; on an offline machine, "
            f"fetch the archive elsewhere and unpack it under the data root."
        ) from error
    tmp.replace(target)
    return target


def download_and_extract(url: str, target_dir: str | Path, name: str) -> Path:
    """Download an archive from ``url`` and unpack it safely into ``<target_dir>/<name>``."""
    corpus_dir = Path(target_dir) / name
    corpus_dir.mkdir(parents=True, exist_ok=True)
    archive = download_file(url, corpus_dir / f".download-{Path(url).name or 'archive'}")
    try:
        safe_extract(archive, corpus_dir)
    finally:
        archive.unlink(missing_ok=True)
    return corpus_dir


def safe_extract(archive: Path, target_dir: Path) -> None:
    """Extract a zip or tar archive, refusing members that would land outside ``target_dir``."""
    target_dir = target_dir.resolve()
    target_dir.mkdir(parents=True, exist_ok=True)

    def check(name: str) -> None:
        dest = (target_dir / name).resolve()
        if dest != target_dir and target_dir not in dest.parents:
            raise DatasetError(f"{archive}: member '{name}' would extract outside {target_dir}; refusing")

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                check(name)
            zf.extractall(target_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                check(member.name)
                if member.issym() or member.islnk():
                    raise DatasetError(f"{archive}: member '{member.name}' is a link; refusing")
            tf.extractall(target_dir, filter="data")
    else:
        raise DatasetError(f"{archive} is neither a zip nor a tar archive")


def corpora_root(recipe: DatasetRecipe, data_root: Path | None, work_dir: Path) -> Path | None:
    """The data root to use: the given one, or ``<work_dir>/corpora`` for test-only sets built in code."""
    if data_root is None and recipe.test_only:
        return Path(work_dir) / "corpora"
    return data_root


def manifest_path(work_dir: Path, dataset: str) -> Path:
    return Path(work_dir) / dataset / MANIFEST_NAME


def prepare_dataset(
    name: str,
    data_root: Path | None,
    work_dir: Path,
    sample_rate: int = 16000,
    download: bool = False,
    force: bool = False,
    **options,
) -> Path:
    """Make sure ``<work_dir>/<name>/manifest.parquet`` exists, preparing it from the corpus if needed.

    Args:
        name: a registered dataset.
        data_root: where corpora live (``<data_root>/<name>``). Test-only sets are built under
            ``work_dir`` when this is ``None``.
        work_dir: where manifests are written.
        sample_rate: the rate every clip is resampled to.
        download: fetch the corpus first when it is absent.
        force: prepare again even if the manifest exists.
        options: recipe options (``on_missing``, ``seed``, ``split_list``, ...), where the recipe takes them.
    """
    return prepare_report(name, data_root, work_dir, sample_rate, download, force, **options).manifest


def prepare_report(
    name: str,
    data_root: Path | None,
    work_dir: Path,
    sample_rate: int = 16000,
    download: bool = False,
    force: bool = False,
    **options,
) -> PrepareReport:
    """:func:`prepare_dataset`, returning the full :class:`PrepareReport` (empty if nothing was done)."""
    import inspect

    recipe = get_recipe(name)
    manifest = manifest_path(work_dir, recipe.name)
    if manifest.is_file() and not force:
        return PrepareReport(
            dataset=recipe.name, manifest=manifest, notes=["manifest exists; not prepared again"]
        )
    accepted = inspect.signature(recipe.prepare).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    options = {k: v for k, v in options.items() if v is not None and (takes_any or k in accepted)}
    if recipe.corpus_dir is not None:
        return recipe.prepare(recipe.corpus_dir, work_dir, sample_rate, **options)
    data_root = corpora_root(recipe, data_root, work_dir)
    if data_root is None:
        raise DatasetError(
            f"no data root for '{name}': pass --data-root, set paths.data_root in the spec, or set "
            f"$RAYSYNTH_DATA to the folder holding {recipe.layout}. To get the corpus: "
            f"`python jobs/prepare.py {name} --download --root <data_root>` (source: {recipe.url})"
        )
    corpus_dir = Path(data_root) / name
    if not corpus_dir.is_dir() or not any(corpus_dir.iterdir()):
        if download or recipe.test_only:
            data_root.mkdir(parents=True, exist_ok=True)
            corpus_dir = recipe.download(Path(data_root))
        else:
            raise DatasetError(
                f"expected the '{name}' corpus at {corpus_dir} (layout {recipe.layout}), but it is "
                f"missing or empty. Get it with `python jobs/prepare.py {name} --download --root "
                f"{data_root}` (source: {recipe.url})"
            )
    return recipe.prepare(corpus_dir, work_dir, sample_rate, **options)


def locate(corpus_dir: Path, marker: str, dataset: str, layout: str, url: str) -> Path:
    """The folder under ``corpus_dir`` (itself, or one level down) that holds ``marker``.

    Archives unpack into a top folder (``ESC-50-master/``, ``UrbanSound8K/``); both that folder
    and its parent are accepted as the corpus directory.
    """
    corpus_dir = Path(corpus_dir)
    candidates = (
        [corpus_dir, *sorted(p for p in corpus_dir.glob("*") if p.is_dir())] if corpus_dir.is_dir() else []
    )
    for candidate in candidates:
        if list(candidate.glob(marker)):
            return candidate
    raise DatasetError(
        f"{corpus_dir} does not look like {dataset}: expected the layout {layout} (looked for {marker}). "
        f"Get the corpus from {url}"
    )


def group_split(
    groups: Iterable[str], seed: int = 0, valid: float = 0.1, test: float = 0.2
) -> dict[str, str]:
    """Assign whole groups (speakers, actors, source files) to train/valid/test, seeded.

    Every split gets at least one group when there are three or more, so no group is in two splits.
    """
    import numpy as np

    unique = sorted(set(groups))
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    n_test = max(1, round(test * len(unique))) if test > 0 and len(unique) >= 3 else 0
    n_valid = max(1, round(valid * len(unique))) if valid > 0 and len(unique) >= 3 else 0
    assignment = {}
    for position, group in enumerate(order):
        assignment[group] = (
            "test" if position < n_test else "valid" if position < n_test + n_valid else "train"
        )
    return assignment


def stratified_split(
    keys: list[str], labels: list[str], seed: int = 0, valid: float = 0.1, test: float = 0.2
) -> dict[str, str]:
    """Assign clips to train/valid/test within each class, seeded (for corpora with no official split)."""
    from raysynth.datasets.sampling import class_order

    by_class: dict[str, list[str]] = {}
    for key, label in zip(keys, labels, strict=True):
        by_class.setdefault(label, []).append(key)
    assignment = {}
    for label, members in by_class.items():
        order = class_order(members, seed, label)
        n_test, n_valid = round(test * len(order)), round(valid * len(order))
        for position, key in enumerate(order):
            assignment[key] = (
                "test" if position < n_test else "valid" if position < n_test + n_valid else "train"
            )
    return assignment


def words(identifier: str) -> str:
    """``door_wood_knock`` -> ``door wood knock``; ``CuttingInKitchen`` -> ``cutting in kitchen``."""
    import re

    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", identifier.replace("_", " ").replace("-", " "))
    return " ".join(spaced.lower().split())


STANDARD_SPLITS = {"train", "valid", "test"}


def split_roles(splits: Iterable[str], fold: int | None) -> tuple[set[str], str, str]:
    """Which manifest splits a trial trains, validates and tests on.

    Manifests with ``train/valid/test`` use them as they are (``fold`` must be ``None``).
    Manifests whose splits are fold numbers test on ``fold``, validate on the next fold
    (cyclically) and train on the rest.

    >>> split_roles({"1", "2", "3", "4", "5"}, 5)
    ({'2', '3', '4'}, '1', '5')
    """
    splits = set(splits)
    if splits <= STANDARD_SPLITS:
        if fold is not None:
            raise ValueError(
                f"this dataset has fixed train/valid/test splits; fold has to be unset, but is {fold}"
            )
        return {"train"}, "valid", "test"
    folds = sorted(splits, key=lambda s: int(s) if s.isdigit() else s)
    if fold is None or str(fold) not in splits:
        raise ValueError(
            f"this dataset is split into folds {', '.join(folds)}; fold has to be one of them, but is {fold}"
        )
    test = str(fold)
    valid = folds[(folds.index(test) + 1) % len(folds)]
    return splits - {test, valid}, valid, test
