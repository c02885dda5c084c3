"""Prepare a dataset: read the corpus in its official layout and write the real manifest (Parquet).

    python jobs/prepare.py fsdd --root ../shared/data
    python jobs/prepare.py emodb --root ../shared/data
    python jobs/prepare.py esc50 --download --root ~/data             # needs network
    python jobs/prepare.py noise:../shared/data/noise_speech_commands/_background_noise_ --test-files running_tap

Prints clips per split and per class, total duration, original sample rates and channels, and
every problem found (unreadable files, metadata rows without audio, absent folds).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from raysynth.cli import run_main
from raysynth.config import DATA_ENV, DEFAULT_WORK_DIR, WORK_ENV
from raysynth.datasets import DATASETS, DatasetError, prepare
from raysynth.datasets.manifest import ON_MISSING
from raysynth.workspace import as_location, run_cache


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", nargs="?", help=f"dataset: {', '.join(sorted(DATASETS))}, or noise:<dir>")
    parser.add_argument(
        "--config", help="prepare the manifests this experiment spec needs (dataset and noise)"
    )
    parser.add_argument("--root", help=f"corpora root (default ${DATA_ENV}); the corpus is <root>/<name>")
    parser.add_argument(
        "--work-dir", help=f"where the manifest goes (default ${WORK_ENV} or ./{DEFAULT_WORK_DIR})"
    )
    parser.add_argument("--download", action="store_true", help="download the corpus first if it is absent")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument(
        "--on-missing", choices=ON_MISSING, help="metadata rows without audio: fail (default) or continue"
    )
    parser.add_argument("--split-list", type=int, choices=(1, 2, 3), help="UCF101's official list")
    parser.add_argument("--test-files", nargs="+", help="noise:<dir> only: file stems held out as test noise")
    parser.add_argument("--seed", type=int, help="seed of seeded splits (gtzan, tess, crema_d, noise)")
    parser.add_argument("--force", action="store_true", help="prepare again even if the manifest exists")
    args = parser.parse_args()
    if bool(args.name) == bool(args.config):
        parser.error("give a dataset NAME or --config SPEC")
    if args.config:
        return prepare_for_spec(args)

    root = args.root or os.environ.get(DATA_ENV)
    if not root and not args.name.startswith("noise:"):
        raise DatasetError(f"give --root or set ${DATA_ENV}: the folder that holds <root>/{args.name}")
    work_dir = as_location(args.work_dir or os.environ.get(WORK_ENV) or DEFAULT_WORK_DIR)
    run_cache(work_dir)
    report = prepare(
        args.name,
        Path(root) if root else None,
        work_dir,
        args.sample_rate,
        download=args.download,
        force=args.force,
        on_missing=args.on_missing,
        split_list=args.split_list,
        test_files=args.test_files,
        seed=args.seed,
    )
    print(report.summary())
    return 0


def prepare_for_spec(args: argparse.Namespace) -> int:
    """The manifest stages of an experiment, as the sweep would run them."""
    from raysynth.config import load_spec, resolve_data_root, resolve_work_dir
    from raysynth.inputs import resolve
    from raysynth.inputs.stages import ensure_manifest, ensure_noise_manifest

    spec = load_spec(args.config)
    work_dir = resolve_work_dir(spec, args.work_dir)
    run_cache(work_dir)
    resolved = resolve(spec, resolve_data_root(spec, args.root), work_dir)
    for report in (ensure_manifest(resolved), ensure_noise_manifest(resolved)):
        if report is not None:
            print(report.summary())
    return 0


if __name__ == "__main__":
    run_main(main)
