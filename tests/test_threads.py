"""A job uses exactly its threads, measured in CPU time so that the verdict does not
depend on how busy the machine is.

While a shard is simulated, the probe reads every thread's CPU time (``schedstat``, ns)
every 10 ms. Two numbers come out:

- cores used = the process's CPU time / wall time: at most ``threads`` (plus the Python
  dispatcher's share). Other jobs on the machine can only lower it, never raise it.
- busy threads = threads that did at least a fifth of an equal share of the work: the
  job's pool really spreads the work over its ``threads`` threads. A loaded machine
  slows every thread alike, so this does not change with load either.

(Counting runnable threads, as an earlier version did, depended on load: a thread waiting
for a core stays runnable, so on a busy machine JAX's dispatcher and its XLA worker
overlap longer.)
"""

import json
import subprocess
import sys

import pytest

from workflow_helpers import SCHEMA_PATH

PROBE = """
import json, os, threading, time
from mfnpe.runtime import limit_threads
limit_threads({threads})
from mfnpe.plan import shards
from mfnpe.plan.config import load_schema, validate_config
from mfnpe.seeds import simulation_seeds
from mfnpe.simulation.shard import sample_prior_shard, simulate_shard

def cpu_ns(skip):
    found = {{}}
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == skip:
            continue
        try:
            with open(f"/proc/self/task/{{tid}}/schedstat") as handle:
                found[tid] = int(handle.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found

config = validate_config({{"simulators": {{"lf": {{"name": "{simulator}", "dt": 0.025}},
                                           "hf": {{"name": "{simulator}", "dt": 0.01}}}}}},
                         load_schema({schema!r}))
theta, names = sample_prior_shard({{**shards.prior_settings(config, "lf", 0), "shard_size": {n}}})
experiment = shards.experiment_simulation(config, "lf")
sim_seeds = simulation_seeds(config["seed"], "lf", 0, len(theta))
simulate_shard(theta[:2], names, experiment, sim_seeds[:2], threads={threads})  # compile outside the window
first, last, done, watcher_ns = {{}}, {{}}, threading.Event(), [0]

def watch():
    me = threading.get_native_id()
    while True:
        for tid, ns in cpu_ns(skip=me).items():
            first.setdefault(tid, ns)
            last[tid] = ns
        if done.wait(0.01):
            break
    with open(f"/proc/self/task/{{me}}/schedstat") as handle:
        watcher_ns[0] = int(handle.read().split()[0])

watcher = threading.Thread(target=watch)
cpu0, wall0 = time.process_time(), time.perf_counter()
watcher.start()
simulate_shard(theta, names, experiment, sim_seeds, threads={threads})
done.set()
watcher.join()
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0 - watcher_ns[0] / 1e9
per_thread = sorted(((last[t] - first[t]) / 1e9 for t in last), reverse=True)
print(json.dumps({{"wall": wall, "cpu": cpu, "per_thread": per_thread}}))
"""


def cpu_profile(simulator: str, n: int, threads: int) -> dict:
    """Wall [s], process CPU [s] and per-thread CPU [s] (descending) of one shard run."""
    run = subprocess.run(
        [sys.executable, "-c", PROBE.format(threads=threads, simulator=simulator, n=n,
                                           schema=str(SCHEMA_PATH))],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("simulator, n", [("markov", 16), ("subunit_langevin", 6000)])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_shard_runs_on_exactly_its_threads(simulator, n, threads):
    profile = cpu_profile(simulator, n, threads)
    assert profile["wall"] >= 0.3, profile  # long enough to see
    cores = profile["cpu"] / profile["wall"]
    # measured idle: 1.00 (1 thread), 1.89-1.95 (2 threads on 2 cores)
    assert cores <= threads + 0.15, f"{cores:.2f} cores busy on average: {profile}"
    share = sum(profile["per_thread"]) / threads
    busy = [seconds for seconds in profile["per_thread"] if seconds >= 0.2 * share]
    assert len(busy) >= threads, f"the work ran on {len(busy)} threads: {profile}"
