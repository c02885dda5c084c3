"""Run an experiment: prepare data, generate missing synthetic clips, run the Ray Tune grid, print the table.

python jobs/sweep.py --smoke-test
python jobs/sweep.py --config search_spaces/fsdd.yaml --data-root ../shared/data
ray job submit --working-dir . -- python jobs/sweep.py --config search_spaces/<x>.yaml
"""

from __future__ import annotations

import argparse

from raysynth.cli import init_ray, run_main, smoke_spec
from raysynth.config import (
    check_name,
    load_spec,
    resolve_data_root,
    resolve_shard_store,
    resolve_storage_path,
    resolve_work_dir,
)
from raysynth.storage import check_writable
from raysynth.workspace import run_cache


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="experiment spec (YAML) in search_spaces/")
    parser.add_argument(
        "--smoke-test", action="store_true", help="run the smoke preset: offline, tiny, minutes"
    )
    parser.add_argument("--data-root", help="corpora root (overrides the spec and $RAYSYNTH_DATA)")
    parser.add_argument("--work-dir", help="manifests and shards (overrides the spec and $RAYSYNTH_WORK)")
    parser.add_argument("--storage-path", help="Ray Tune storage (local path or s3://)")
    parser.add_argument(
        "--shard-store", help="synthetic shards (local path or s3://; default <work dir>/synthetic)"
    )
    parser.add_argument("--name", help="experiment folder name (default <spec name>-<time>)")
    parser.add_argument(
        "--no-generate", action="store_true", help="fail, listing what is missing, instead of building it"
    )
    parser.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (default: all)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="Ray's own logs, progress and Tune tables too"
    )
    parser.add_argument("--resume", action="store_true", help="restore the interrupted experiment --name")
    args = parser.parse_args()
    if not args.config and not args.smoke_test:
        parser.error("give --config SPEC or --smoke-test")

    from raysynth.inputs import ensure, resolve, table_axes, trial_context
    from raysynth.inputs.stages import check_quality_models
    from raysynth.report import (
        ReportError,
        caveat,
        experiment_record,
        load,
        pivot,
        status_counts,
        status_line,
        to_markdown,
    )
    from raysynth.sweep import default_name, run_sweep
    from raysynth.sweep.resources import check_cluster
    from raysynth.sweep.rounds import ROUND2_SUFFIX, round_cells, run_rounds
    from raysynth.sweep.target import check_target, check_tracking
    from raysynth.train.mixture import check_filter_pools

    spec = load_spec(args.config or smoke_spec())
    if args.name is not None:
        check_name(args.name, "--name")
    work_dir = resolve_work_dir(spec, args.work_dir)
    run_cache(work_dir)  # a work dir on an object store: copies read on this machine go to a temporary cache
    storage = resolve_storage_path(spec, work_dir, args.storage_path)
    # Everything that needs no data is checked here, before Ray starts.
    resolved = resolve(spec, resolve_data_root(spec, args.data_root), work_dir,
                       resolve_shard_store(spec, work_dir, args.shard_store))  # fmt: skip
    check_quality_models(resolved)
    check_tracking(
        resolved.spec, work_dir=work_dir
    )  # an unreachable MLflow server: one line, before Ray starts
    if args.name is not None:  # a taken name, or a resume with another spec: before Ray starts
        check_target(f"{storage.rstrip('/')}/{args.name}", args.name, resolved.spec, args.resume, True)
        if round_cells(resolved)[1]:  # and the round-2 experiment beside it
            name2 = args.name + ROUND2_SUFFIX
            check_target(f"{storage.rstrip('/')}/{name2}", name2, resolved.spec, args.resume, True)
    check_writable(storage)
    check_writable(work_dir)
    init_ray(args.num_cpus, args.verbose)
    check_cluster(resolved)
    inputs = ensure(resolved, generate=not args.no_generate, say=print)
    context = trial_context(resolved, inputs)
    check_filter_pools(list(resolved.cells), context)  # a threshold that keeps too few: before any trial
    if round_cells(resolved)[1]:  # grid.round [1, 2]: round 1, then confusion-driven round 2
        results = run_rounds(
            resolved, inputs, context, storage, args.name or default_name(resolved), args.resume
        )
    else:
        results = [run_sweep(resolved, inputs, context, storage, args.name, args.resume)]
    result = results[0]
    trials = load(*(r.experiment_dir for r in results))
    seconds = sum(r.seconds for r in results)
    print(f"\n{status_line(trials)}; {seconds:.0f}s -> {', '.join(r.experiment_dir for r in results)}")
    rows, cols = table_axes(list(resolved.cells))
    try:
        note = caveat(experiment_record(result.experiment_dir))
        print(to_markdown(pivot(trials, rows, cols), rows, cols, caveat=note))
    except ReportError as error:  # e.g. every trial failed: there is nothing to tabulate
        print(f"no results table: {error}")
    print(f"\nfull report: uv run python jobs/report.py {' '.join(r.experiment_dir for r in results)}")
    counts = status_counts(trials)
    return 1 if any(counts[s] for s in ("errored", "unfinished", "not run", "not readable")) else 0


if __name__ == "__main__":
    run_main(main)
