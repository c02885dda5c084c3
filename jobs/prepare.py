"""Prepare a dataset: read the corpus in its official layout and write the real manifest (Parquet).

python jobs/prepare.py fsdd --root ../shared/data
python jobs/prepare.py fsdd --download --root ~/data     # needs network
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from raysynth.cli import run_main
from raysynth.config import DATA_ENV, DEFAULT_WORK_DIR, WORK_ENV
from raysynth.datasets import DATASETS, DatasetError, get_recipe


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help=f"dataset: {', '.join(sorted(DATASETS))}")
    parser.add_argument("--root", help=f"corpora root (default ${DATA_ENV}); the corpus is <root>/<name>")
    parser.add_argument(
        "--work-dir", help=f"where the manifest goes (default ${WORK_ENV} or ./{DEFAULT_WORK_DIR})"
    )
    parser.add_argument("--download", action="store_true", help="download the corpus first if it is absent")
    parser.add_argument("--sample-rate", type=int, default=16000)
    args = parser.parse_args()

    recipe = get_recipe(args.name)
    root = Path(args.root or os.environ.get(DATA_ENV) or "")
    if not str(root) or str(root) == ".":
        raise DatasetError(f"give --root or set ${DATA_ENV}: the folder that holds {recipe.layout}")
    work_dir = Path(args.work_dir or os.environ.get(WORK_ENV) or DEFAULT_WORK_DIR)
    corpus = root / recipe.name
    if args.download and not corpus.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        corpus = recipe.download(root)
    if not corpus.is_dir():
        raise DatasetError(
            f"expected the '{recipe.name}' corpus at {corpus} (layout {recipe.layout}); "
            f"get it with `python jobs/prepare.py {recipe.name} --download --root {root}` (source: {recipe.url})"
        )
    report = recipe.prepare(corpus, work_dir, args.sample_rate)
    print(report.summary())
    return 0


if __name__ == "__main__":
    run_main(main)
