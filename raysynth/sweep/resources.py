"""Do the experiment's trials and actors fit the Ray cluster? Checked once Ray is up, before any work.

A trial that asks for more CPUs or GPUs than the cluster has waits forever (Tune's warning is hidden
in quiet mode). A local Ray never grows, so there it is refused; on a cluster that may autoscale the
run goes on and says what it waits for.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from raysynth.inputs import Resolved


class ResourceShortfall(ValueError):
    """Trials or actors that ask for more than a local Ray has (bad input: exit 2)."""


def requests(r: Resolved) -> list[tuple[str, str, float]]:
    """(spec key, Ray resource, amount per trial or actor) of every trial and actor the run starts."""
    needs = [("resources.cpus_per_trial", "CPU", r.resources.cpus_per_trial),
             ("resources.gpus_per_trial", "GPU", r.resources.gpus_per_trial)]  # fmt: skip
    for job in (*r.generation, *r.synthetic_noise):
        needs.append((f"generation.num_gpus of {job.generator}", "GPU", float(job.config.num_gpus or 0)))
    if r.score_jobs:
        needs.append(("quality.num_gpus", "GPU", r.quality.num_gpus))
    return [need for need in needs if need[2] > 0]


def check_cluster(r: Resolved, say: Callable[[str], None] = print) -> None:
    """Refuse (local Ray) or announce (a cluster, ``$RAY_ADDRESS``) requests beyond the cluster's total."""
    import ray

    total = ray.cluster_resources()
    short = [(key, res, want) for key, res, want in requests(r) if want > total.get(res, 0.0)]
    if not short:
        return
    where = "the cluster" if os.environ.get("RAY_ADDRESS") else "this local Ray"
    detail = "; ".join(f"{key} {want:g} asks for {want:g} {res} each, but {where} has {total.get(res, 0.0):g} "
                       f"{res}" for key, res, want in short)  # fmt: skip
    if os.environ.get("RAY_ADDRESS"):
        say(f"warning: {detail}: they wait until the autoscaler adds a node that has them")
        return
    raise ResourceShortfall(f"{detail}: they could never start; lower it, or run on a cluster that has them")
