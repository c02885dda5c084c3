"""Turn Tune experiment directories into an ablation table (markdown on stdout, CSV on disk), offline.

python jobs/report.py raysynth_work/ray_results/smoke-20261126-050000
python jobs/report.py EXP_DIR --rows real_fraction --cols synth_multiplier --metric selected_test_macro_f1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from raysynth.cli import run_main
from raysynth.report import DEFAULT_METRIC, load, pivot, to_markdown


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment_dirs", nargs="+", help="Tune experiment folder(s); several are combined")
    parser.add_argument("--rows", nargs="+", default=["real_fraction"], help="axes for table rows")
    parser.add_argument("--cols", nargs="*", default=["synth_multiplier"], help="axes for table columns")
    parser.add_argument(
        "--metric", default=DEFAULT_METRIC, help="metric to aggregate (mean ± std over seeds)"
    )
    parser.add_argument("--out", help="CSV output folder (default: the first experiment folder)")
    args = parser.parse_args()

    df = load(*args.experiment_dirs)
    stats = pivot(df, args.rows, args.cols, args.metric)
    print(to_markdown(stats, args.rows, args.cols))
    out = Path(args.out or args.experiment_dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "trials.csv", index=False)
    stats.to_csv(out / f"table_{args.metric}.csv", index=False)
    print(f"\nwrote {out / 'trials.csv'} and {out / f'table_{args.metric}.csv'}")
    return 0


if __name__ == "__main__":
    run_main(main)
