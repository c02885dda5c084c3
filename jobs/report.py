"""Turn Tune experiment directories into ablation tables, figures and an HTML report, offline.

    python jobs/report.py raysynth_work/ray_results/smoke-20261126-050000
    python jobs/report.py EXP_DIR [EXP_DIR ...] --rows real_fraction --cols synth_multiplier generator

Writes, into --out (default: the first experiment folder): trials.csv, table_<metric>.{csv,md,tex},
fig_*.{png,pdf} and report.html (self-contained: tables, figures and an audio gallery).
"""

from __future__ import annotations

import argparse
import html
from pathlib import Path

from raysynth.cli import run_main
from raysynth.report import (
    DEFAULT_METRIC,
    caveat,
    experiment_notes,
    experiment_record,
    load,
    local_copy,
    metric_name,
    pivot,
    status_line,
    to_html,
    to_latex,
    to_markdown,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment_dirs", nargs="+", help="Tune experiment folder(s); several are combined")
    parser.add_argument("--rows", nargs="+", default=["real_fraction"], help="axes for table rows")
    parser.add_argument("--cols", nargs="*", default=["synth_multiplier"], help="axes for table columns")
    parser.add_argument(
        "--metric", default=DEFAULT_METRIC, help="metric to aggregate (mean ± std over seeds, folds)"
    )
    parser.add_argument(
        "--out", help="output folder (default: the first experiment folder; ./reports for s3:// ones)"
    )
    parser.add_argument("--no-html", action="store_true", help="skip report.html")
    args = parser.parse_args()

    from raysynth.report.equivalent import describe, equivalent_table
    from raysynth.report.figures import all_figures
    from raysynth.report.html import audio_gallery, write_html
    from raysynth.report.paired import paired_table
    from raysynth.report.quality import markdown as markdown_table
    from raysynth.report.quality import quality_section

    # Experiments on an object store (s3://) are copied next to the report first.
    local = Path(args.out or "reports")
    experiment_dirs = [local_copy(d, local) for d in args.experiment_dirs]
    df = load(*experiment_dirs)
    notes = [status_line(df), *experiment_notes(df, experiment_record(experiment_dirs[0]))]
    equivalents = equivalent_table(df, args.metric)
    if not equivalents.empty:
        notes += describe(equivalents, args.metric)
        Path(args.out or experiment_dirs[0]).mkdir(parents=True, exist_ok=True)
        equivalents.to_csv(Path(args.out or experiment_dirs[0]) / "real_equivalent.csv", index=False)
    stats = pivot(df, args.rows, args.cols, args.metric)
    warning = caveat(experiment_record(experiment_dirs[0]))
    markdown = to_markdown(stats, args.rows, args.cols, args.metric, warning) + "\n"
    markdown += "".join(f"\nnote: {n}" for n in notes)
    print(markdown)
    out = Path(args.out or experiment_dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "trials.csv", index=False)
    stats.to_csv(out / f"table_{args.metric}.csv", index=False)
    (out / f"table_{args.metric}.md").write_text(markdown + "\n")
    (out / f"table_{args.metric}.tex").write_text(
        to_latex(stats, args.rows, args.cols, warning, args.metric) + "\n"
    )
    quality_tables = quality_section(df, args.metric, out, say=print)
    rounds = paired_table(df, "round", 1, 2, args.metric) if set(df["round"].dropna()) >= {1, 2} else None
    if rounds is not None and not rounds.empty:  # confusion-driven generation: round 2 against round 1
        line = (f"round 2 against round 1 at equal total clips: each round-2 trial paired with the round-1 trial "
                f"whose validation confusions gave out its clips; {metric_name(args.metric)}, exact sign-flip p")  # fmt: skip
        print(f"\n{line}\n\n{markdown_table(rounds)}")
        rounds.to_csv(out / "rounds.csv", index=False)
        quality_tables["Round 2 (confusion-driven) against round 1"] = (
            rounds.to_html(index=False, float_format="%.3f") + f"<p>{html.escape(line)}</p>"
        )
    figures, skipped = all_figures(df[df["status"] == "completed"], out, args.metric)
    print(f"\nwrote {out}/trials.csv, table_{args.metric}.{{csv,md,tex}} and {len(figures)} figure(s)")
    for reason in skipped:
        print(f"  skipped {reason}")
    if not args.no_html:
        table_html = to_html(stats, args.rows, args.cols, args.metric, warning)
        page = write_html(out / "report.html", f"raysynth: {', '.join(d.name for d in experiment_dirs)}",
                          {f"{metric_name(args.metric)}, by {', '.join(args.rows + args.cols)}": table_html
                           + "".join(f"<p>note: {html.escape(n)}</p>" for n in notes), **quality_tables}, figures,
                          audio_gallery(experiment_dirs[0]))  # fmt: skip
        print(f"  {page}")
    return 0


if __name__ == "__main__":
    run_main(main)
