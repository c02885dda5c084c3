"""A real multi-node run (issue 27, item 2): ``ray.cluster_utils.Cluster`` starts a head and a worker
node on this machine, each its own raylet with one CPU and a custom resource, so two generator actors
and two trials must spread over both. The worker node is removed mid-generation and another joins:
Ray restarts the lost actor and retries its batch there, and the run ends with every planned clip on
disk exactly once. The nodes share no path: the work dir (manifests, shards, Tune's results) is on moto's
S3 server, and each node has a temp dir of its own, where it keeps its cache of what it read from there.

It runs in a subprocess, which owns its cluster (the session's local Ray is not touched). ``slow``:
three raylets start and two stop (about a minute and a half on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SCRIPT = r"""
import json, sys, threading, time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from raysynth import storage
from raysynth.config import parse_spec
from raysynth.generate.engine import shard_files
from raysynth.inputs import ensure, resolve, trial_context
from raysynth.inputs.synthetic import plan_job
from raysynth.sweep import run_sweep

work, temp = sys.argv[1], Path(sys.argv[2])  # an s3:// work dir; one temp dir per node under temp
def own_temp(name):
    (temp / name).mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(temp / name)}
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1},
                                                         "env_vars": own_temp("head")})
first = cluster.add_node(num_cpus=1, resources={"worker": 1}, env_vars=own_temp("worker1"))
ray.init(address=cluster.address, logging_level="ERROR")
cluster.wait_for_nodes()
spec = parse_spec({
    "name": "nodes", "dataset": {"name": "toy", "sample_rate": 16000},
    "generation": {"generator": "audiogen", "tiny": True, "num_gpus": 0, "concurrency": 2, "batch_size": 2,
                   "duration_s": 1.0},
    "train": {"epochs": 1, "batch_size": 8, "n_mels": 32, "num_threads": 1},
    "grid": {"real_fraction": 1.0, "synth_multiplier": 1, "seed": [0, 1]},
    "resources": {"cpus_per_trial": 1, "max_concurrent_trials": 2},
})
resolved = resolve(spec, None, work)
(job,) = resolved.generation
done = {}
thread = threading.Thread(target=lambda: done.update(inputs=ensure(resolved)), daemon=True)
thread.start()
def alive_generators():
    return {a.node_id for a in list_actors(filters=[("state", "=", "ALIVE")], limit=1000)
            if "ShardWriter" in a.class_name and a.node_id}

deadline = time.time() + 240  # both actors up (importing torch takes a while) and some shards written
while (len(alive_generators()) < 2 or len(shard_files(job.folder)) < 2) and time.time() < deadline:
    time.sleep(0.2)
generator_nodes = alive_generators()
written_before = len(shard_files(job.folder))
cluster.remove_node(first)  # its raylet and the generator actor on it end here
second = cluster.add_node(num_cpus=1, resources={"worker": 1}, env_vars=own_temp("worker2"))
thread.join(300)
planned = [row["id"] for row in plan_job(job, resolved.manifest.path)]
ids = storage.dataset(shard_files(job.folder)).to_table(columns=["id"]).column("id").to_pylist()
result = run_sweep(resolved, done["inputs"], trial_context(resolved, done["inputs"]), f"{work}/results", "nodes")
actors = list_actors(detail=True, limit=10000)
print("RESULT " + json.dumps({
    "nodes": [first.node_id, second.node_id, cluster.head_node.node_id],
    "written_before_kill": written_before,
    "generated": done["inputs"].generation[0].written if "inputs" in done else None,
    "generator_nodes_at_kill": sorted(generator_nodes),
    "generator_nodes": sorted({a.node_id for a in actors if "ShardWriter" in a.class_name and a.node_id}),
    "trial_nodes": sorted({a.node_id for a in actors if "ImplicitFunc" in a.class_name and a.node_id}),
    "planned": len(planned), "ids": len(ids), "unique": len(set(ids)), "same": sorted(ids) == sorted(planned),
    "trials": [result.num_trials, result.num_errors],
    "store": str(job.folder), "manifest": str(resolved.manifest.path),
    "cached": {node: sorted(p.name for p in (temp / node).glob("raysynth-cache-*/*/*") if p.is_file())
               for node in ("head", "worker1", "worker2")},
}))
ray.shutdown()
cluster.shutdown()
"""


@pytest.mark.slow
@pytest.mark.e2e
def test_two_nodes_spread_generation_and_trials_and_survive_losing_one(s3, short_tmp):
    tmp_path = short_tmp  # Ray's sockets: paths under 108 bytes
    env = {**os.environ, **s3, "TMPDIR": str(tmp_path / "driver")}
    env.pop("RAYSYNTH_NODE_CACHE", None)
    (tmp_path / "driver").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, "s3://raysynth/two-nodes", str(tmp_path / "nodes")], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert run.returncode == 0 and line, run.stderr[-3000:]
    got = json.loads(line.removeprefix("RESULT "))
    first, second, head = got["nodes"]
    assert 2 <= got["written_before_kill"] < 40, got  # the worker left mid-generation (40 shards of 2)
    assert set(got["generator_nodes_at_kill"]) == {first, head}, got  # one actor per node: they spread
    assert second in got["generator_nodes"], got  # the lost actor came back on the node that joined
    assert got["same"] and got["ids"] == got["unique"] == got["planned"] == 80, got  # every clip once
    assert got["trials"] == [2, 0] and set(got["trial_nodes"]) == {head, second}, got  # one trial per node
    # No shared path: shards and manifests are objects, and each trial's node read the manifest into its own cache.
    assert got["store"].startswith("s3://raysynth/two-nodes/") and got["manifest"].startswith("s3://"), got
    assert "manifest.parquet" in got["cached"]["head"] and "manifest.parquet" in got["cached"]["worker2"], got
    made = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".parquet", ".pt", ".npy")]
    assert all(any(part.startswith("raysynth-cache-") for part in p.parts) for p in made), made
