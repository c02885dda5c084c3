"""A real multi-node run (issue 27, item 2): ``ray.cluster_utils.Cluster`` starts a head and a worker
node on this machine, each its own raylet with one CPU and a custom resource. The smoke sweep is then
submitted to that cluster as a user's job is: ``jobs/sweep.py`` in its own process, connected through
``RAY_ADDRESS``, with the smoke preset's two generator actors (``generation.concurrency: 2``) and two
concurrent trials, so generation and trials must spread over both nodes. The worker node is removed
mid-generation and another joins: Ray restarts the lost actor and retries its batch there, and the run
ends with every planned clip in the store exactly once and every trial completed.

The nodes share no path: the work dir (the toy corpus's manifests, its noise manifest, shards, teachers,
score tables, Tune's results) is on moto's S3 server, and the driver and each node have a temp dir of
their own, where each keeps its cache of what it read from there.

It runs in a subprocess, which owns its cluster (the session's local Ray is not touched). ``slow``:
three raylets start and two stop, and the smoke sweep runs on two one-CPU nodes (about six minutes on
2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT

SCRIPT = r"""
import json, os, subprocess, sys, time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from raysynth import storage
from raysynth.config import load_spec
from raysynth.generate.engine import shard_files
from raysynth.inputs import resolve
from raysynth.inputs.synthetic import plan_job

work, temp, spec_path, repo = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def own_temp(name):
    (temp / name).mkdir(parents=True, exist_ok=True)
    return str(temp / name)
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1},
                                                         "env_vars": {"TMPDIR": own_temp("head")}})
first = cluster.add_node(num_cpus=1, resources={"worker": 1}, env_vars={"TMPDIR": own_temp("worker1")})
cluster.wait_for_nodes()
ray.init(address=cluster.address, logging_level="ERROR")  # this process only watches and reads the state API
jobs = [job.folder for job in resolve(load_spec(spec_path), None, work).generation]

# The user's command, against this cluster: its own process, cwd and temp dir.
env = {**os.environ, "RAY_ADDRESS": cluster.address, "TMPDIR": own_temp("driver")}
log = open(temp / "driver.log", "w")
driver = subprocess.Popen([sys.executable, f"{repo}/jobs/sweep.py", "--config", spec_path, "--work-dir", work,
                           "--name", "nodes"], cwd=own_temp("cwd"), env=env, stdout=log, stderr=subprocess.STDOUT)
def alive_generators():
    return {a.node_id for a in list_actors(filters=[("state", "=", "ALIVE")], limit=1000)
            if "ShardWriter" in a.class_name and a.node_id}
def written():
    return sum(len(shard_files(folder)) for folder in jobs if storage.exists(folder))

deadline = time.time() + 420  # the corpus, its teachers, then both actors up and some shards written
while (len(alive_generators()) < 2 or written() < 2) and time.time() < deadline and driver.poll() is None:
    time.sleep(0.2)
generator_nodes = alive_generators()
written_before = written()
cluster.remove_node(first)  # its raylet and the generator actor on it end here
second = cluster.add_node(num_cpus=1, resources={"worker": 1}, env_vars={"TMPDIR": own_temp("worker2")})
code = driver.wait(900)
log.close()
resolved = resolve(load_spec(spec_path), None, work)
planned = [row["id"] for job in resolved.generation for row in plan_job(job, resolved.manifest.path)]
ids = storage.dataset([f for folder in jobs for f in shard_files(folder)]).to_table(columns=["id"]).column("id").to_pylist()
actors = list_actors(detail=True, limit=10000)
print("RESULT " + json.dumps({
    "code": code, "log": (temp / "driver.log").read_text()[-6000:],
    "nodes": [first.node_id, second.node_id, cluster.head_node.node_id],
    "written_before_kill": written_before,
    "generator_nodes_at_kill": sorted(generator_nodes),
    "generator_nodes": sorted({a.node_id for a in actors if "ShardWriter" in a.class_name and a.node_id}),
    "trial_nodes": sorted({a.node_id for a in actors if "ImplicitFunc" in a.class_name and a.node_id}),
    "planned": len(planned), "ids": len(ids), "unique": len(set(ids)), "same": sorted(ids) == sorted(planned),
    "stores": [str(folder) for folder in jobs], "manifest": str(resolved.manifest.path),
    "cwd": [p.name for p in (temp / "cwd").iterdir()],
    "cached": {node: sorted(p.name for p in (temp / node).glob("raysynth-cache-*/*/*") if p.is_file())
               for node in ("head", "worker1", "worker2")},
}))
ray.shutdown()
cluster.shutdown()
"""


@pytest.mark.slow
@pytest.mark.e2e
def test_the_smoke_sweep_spreads_over_two_nodes_and_survives_losing_one(s3, short_tmp):
    tmp_path = short_tmp  # Ray's sockets: paths under 108 bytes
    spec = yaml.safe_load((REPO_ROOT / "search_spaces" / "smoke.yaml").read_text())
    spec["generation"].update(concurrency=2, batch_size=2)  # two actors, and batches small enough to cut into
    (tmp_path / "smoke2.yaml").write_text(yaml.safe_dump(spec))
    env = {key: value for key, value in os.environ.items()
           if key not in ("RAY_ADDRESS", "RAYSYNTH_WORK", "RAYSYNTH_NODE_CACHE", "RAYSYNTH_DATA")}  # fmt: skip
    env.update(s3, TMPDIR=str(tmp_path / "owner"), PYTHONPATH=str(REPO_ROOT))
    (tmp_path / "owner").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, "s3://raysynth/two-nodes", str(tmp_path / "nodes"),
         str(tmp_path / "smoke2.yaml"), str(REPO_ROOT)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=1500,
    )  # fmt: skip
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert run.returncode == 0 and line, run.stderr[-3000:]
    got = json.loads(line.removeprefix("RESULT "))
    assert got["code"] == 0 and "6 trial(s): 6 completed" in got["log"], got["log"]
    first, second, head = got["nodes"]
    assert 2 <= got["written_before_kill"] < 40, got  # the worker left mid-generation (40 shards of 2)
    assert set(got["generator_nodes_at_kill"]) == {first, head}, got  # one actor per node: they spread
    assert second in got["generator_nodes"], got  # the lost actor came back on the node that joined
    assert got["same"] and got["ids"] == got["unique"] == got["planned"] == 80, got  # every clip once
    assert set(got["trial_nodes"]) == {head, second}, got  # the trials ran on both nodes
    # No shared path: shards and manifests are objects, and each trial's node read the manifest into its own cache.
    assert all(s.startswith("s3://raysynth/two-nodes/") for s in got["stores"]), got
    assert got["manifest"].startswith("s3://raysynth/two-nodes/"), got
    assert "manifest.parquet" in got["cached"]["head"] and "manifest.parquet" in got["cached"]["worker2"], got
    assert got["cwd"] == [], got  # no ./raysynth_work, no reports
    made = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".parquet", ".pt", ".npy")]
    assert all(any(part.startswith("raysynth-cache-") for part in p.parts) for p in made), made
