"""Generate the synthetic clips an experiment needs (the sweep's input stages, without the trials).

    python jobs/generate.py --smoke-test
    python jobs/generate.py --config search_spaces/<x>.yaml --data-root DATA [--work-dir W]

Clips already on disk are skipped, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse

from raysynth.cli import init_ray, run_main, smoke_spec
from raysynth.config import load_spec, resolve_data_root, resolve_shard_store, resolve_work_dir


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="experiment spec (YAML)")
    parser.add_argument("--smoke-test", action="store_true", help="use the smoke preset")
    parser.add_argument("--data-root", help="corpora root (overrides the spec and $RAYSYNTH_DATA)")
    parser.add_argument("--work-dir", help="manifests and shards (overrides the spec and $RAYSYNTH_WORK)")
    parser.add_argument(
        "--shard-store", help="synthetic shards (local path or s3://; default <work dir>/synthetic)"
    )
    parser.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (default: all)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="Ray's own logs, progress and Tune tables too"
    )
    args = parser.parse_args()
    if not args.config and not args.smoke_test:
        parser.error("give --config SPEC or --smoke-test")

    from raysynth.inputs import ensure, resolve
    from raysynth.workspace import run_cache

    spec = load_spec(args.config or smoke_spec())
    work_dir = resolve_work_dir(spec, args.work_dir)
    run_cache(work_dir)
    resolved = resolve(spec, resolve_data_root(spec, args.data_root), work_dir,
                       resolve_shard_store(spec, work_dir, args.shard_store))  # fmt: skip
    init_ray(args.num_cpus, args.verbose)
    inputs = ensure(resolved, say=print)
    for summary in inputs.generation:
        for shard in summary.shards:
            print(f"  {shard}")
    return 0


if __name__ == "__main__":
    run_main(main)
