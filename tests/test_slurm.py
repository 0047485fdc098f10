"""The tiny config through the SLURM profile on a real single-node SLURM cluster.

tests/cluster/start_slurm.sh installs (apt-get), configures and starts munge, slurmctld and
slurmd on this machine; the module is skipped, with the script's reason, only where that is
impossible (not root, no apt-get, no package mirror). Set MFNPE_REQUIRE_SLURM=1 to make
that a failure instead. The daemons keep running after the tests (idle, they cost nothing);
`tests/cluster/start_slurm.sh --stop` stops them.
"""

import collections
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from mfnpe.io.shards import read_sim_shard
from mfnpe.plan import shards
from mfnpe.plan.config import load_config
from workflow_helpers import CONFIG_SCHEMA, ROOT, SNAKEFILE, TINY, job_resources, same_model

START_SLURM = ROOT / "tests" / "cluster" / "start_slurm.sh"
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
RUN_TIMEOUT = 900  # seconds; the run takes about 2 minutes on a 2-core machine
CONFIG = load_config(TINY, CONFIG_SCHEMA)
EVALUATED = "results/eval/mf_npe/nlf-400_nhf-20_seed-0.h5"
MODELS = ("results/models/lf_npe/nlf-400_nhf-0_seed-0.pt",
          "results/models/mf_npe/nlf-400_nhf-20_seed-0.pt")
SHARDS = tuple(f"results/sims/{pool}/shard-{k}.h5" for pool in shards.POOLS
               for k in range(shards.n_shards(CONFIG, pool)))
TARGETS = (*SHARDS, EVALUATED)
"""What the SLURM run makes: every shard (grouped submissions) and one MF-NPE model's
evaluation (its pretraining, fine-tuning and evaluation: single submissions). The rest of
the DAG is the same kind of job; every rule's resources are checked by a dry run below."""

pytestmark = pytest.mark.cluster


def scontrol_config() -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                         check=True).stdout
    return dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", out, re.MULTILINE))


@pytest.fixture(scope="module")
def slurm() -> dict[str, str]:
    """The local cluster, started if needed; its `scontrol show config`."""
    try:
        started = subprocess.run(["bash", str(START_SLURM)], capture_output=True, text=True,
                                 timeout=900)
        code, message = started.returncode, started.stderr
    except subprocess.TimeoutExpired as err:
        code, message = "timeout", str(err.stderr or "")
    if code != 0:
        reason = (f"no local SLURM cluster: {START_SLURM.relative_to(ROOT)} exited with {code}: "
                  + " | ".join(message.strip().splitlines()[-8:]))
        print(reason)
        if os.environ.get("MFNPE_REQUIRE_SLURM"):
            pytest.fail(reason)
        pytest.skip(reason)
    return scontrol_config()


def default_partition() -> str:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                         check=True).stdout.split()
    return next(name.rstrip("*") for name in out if name.endswith("*"))


def jobcomp_records(path: Path, name: str) -> dict[str, dict[str, str]]:
    """The job completion records (jobcomp/filetxt) of the SLURM jobs called ``name``."""
    records = {}
    for line in path.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("Name") == name:
            records[fields["JobId"]] = fields
    return records


def allocation(tres: str) -> tuple[int, int]:
    """(CPUs, memory in MB) of a job completion record's Tres (cpu=2,mem=3000M,...)."""
    cpus, mem, unit = re.match(r"cpu=(\d+),mem=([\d.]+)([MGT])", tres).groups()
    return int(cpus), round(float(mem) * {"M": 1, "G": 1024, "T": 1024**2}[unit])


@pytest.fixture(scope="module")
def slurm_run(slurm, tmp_path_factory):
    """The tiny config's :data:`TARGETS` through the SLURM profile: (workdir, log, seconds)."""
    workdir = tmp_path_factory.mktemp("tiny_slurm")
    command = [
        sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile", str(TINY),
        "-d", str(workdir),
        "--workflow-profile", str(PROFILE),
        # how a user names their partition (and account: slurm_account=...; this cluster has
        # no accounting, so no account is given)
        "--default-resources", f"slurm_partition={default_partition()}",
        # no slurmdbd here: sacct cannot report jobs, squeue can (MinJobAge keeps finished
        # jobs listed); poll every 2 s instead of 40 s so the test is quick
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "2",
        "--verbose",  # logs every sbatch call
        *TARGETS,
    ]
    start = time.monotonic()
    try:
        run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                             timeout=RUN_TIMEOUT)
        log, returncode = run.stdout + run.stderr, run.returncode
    except subprocess.TimeoutExpired as err:
        log = (err.stdout or "") + (err.stderr or "")
        log = log.decode() if isinstance(log, bytes) else log
        returncode = "timeout"
    seconds = time.monotonic() - start
    print(f"SLURM run of the tiny config: {seconds:.0f} s")
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    if returncode != 0:
        if submitted:  # leave nothing behind in the queue
            subprocess.run(["scancel", *submitted], capture_output=True)
        pytest.fail(f"snakemake through SLURM failed ({returncode}):\n{log[-6000:]}")
    return workdir, log, seconds


def test_every_job_ran_through_slurm(slurm, slurm_run):
    workdir, log, _ = slurm_run
    assert re.search(r"(\d+) of \1 steps \(100%\) done", log)
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    # Snakemake ids of the submissions (integers for single jobs, UUIDs for group jobs)
    # and their SLURM job ids
    submissions = dict(re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", log))
    records = jobcomp_records(Path(slurm["JobCompLoc"]), run_id)
    states = {job: r["JobState"] for job, r in records.items()}
    assert set(states.values()) == {"COMPLETED"}, states  # and no failed attempts
    assert set(records) == set(submissions.values())

    # every job went through those submissions
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", log.split("Job stats:")[1].split("total")[0],
                            re.MULTILINE))
    counts = {rule: int(n) for rule, n in stats.items()}
    n_shards = len(SHARDS)
    assert counts == {"sample_prior": n_shards, "simulate": n_shards, "pretrain": 1,
                      "finetune": 1, "evaluate": 1}
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    per_submission = profile["group-components"]["simulation"]
    groups = [job for job in submissions if not job.isdigit()]
    assert len(groups) == math.ceil(n_shards / per_submission) < n_shards
    singles = [job for job in submissions if job.isdigit()]
    assert len(singles) == sum(counts.values()) - 2 * n_shards

    # SLURM allocated what each sbatch call asked for
    calls = re.findall(r"sbatch call: (.*)", log)
    assert len(calls) == len(submissions)
    asked = collections.Counter(
        (int(re.search(r"--cpus-per-task=(\d+)", call).group(1)),
         int(re.search(r"--mem (\d+)", call).group(1)))
        for call in calls)
    got = collections.Counter(allocation(r["Tres"]) for r in records.values())
    assert got == asked
    assert max(cpus for cpus, _ in asked) == 2  # a group's shards share the submission
    # the jobs see HDF5_USE_FILE_LOCKING=FALSE (the profile's precommand)
    assert all("export HDF5_USE_FILE_LOCKING=FALSE &&" in call for call in calls)
    # the plugin polled squeue, never sacct
    assert "command=squeue" in log and "command=sacct" not in log


def test_slurm_results_equal_the_local_run(slurm_run, tiny_run):
    """Simulations, models and the evaluation are bit-identical to the local run's."""
    workdir = slurm_run[0]
    for name in SHARDS:
        here, local = read_sim_shard(workdir / name), read_sim_shard(tiny_run / name)
        assert np.array_equal(here.theta, local.theta), name
        assert np.array_equal(here.x, local.x, equal_nan=True), name
        assert np.array_equal(here.valid, local.valid), name
    for name in MODELS:
        assert same_model(workdir / name, tiny_run / name), name
    here, local = h5_contents(workdir / EVALUATED), h5_contents(tiny_run / EVALUATED)
    assert here.keys() == local.keys() and len(here) > 1
    for key in here:
        numeric = here[key].dtype.kind in "fc"  # NaN equals NaN in float data only
        assert np.array_equal(here[key], local[key], equal_nan=numeric), key


def h5_contents(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file by its path, and every attribute as ``path@name``."""
    contents = {}
    with h5py.File(path, "r") as handle:
        def visit(name, item):
            for key, value in item.attrs.items():
                contents[f"{name}@{key}"] = np.asarray(value)
            if isinstance(item, h5py.Dataset):
                contents[name] = item[()]
        handle.visititems(visit)
        for key, value in handle.attrs.items():
            contents[f"@{key}"] = np.asarray(value)
    return contents


def dry_run_resources(workdir: Path, *args: str) -> dict[tuple[str, str], dict[str, str]]:
    """Resources of every job of a dry run of the tiny config: (rule, wildcards) -> {name: value}."""
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile", str(TINY),
         "-d", str(workdir), "-n", *args], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return job_resources(run.stdout + run.stderr)


def test_retried_jobs_get_the_rules_memory_times_the_attempt(tmp_path):
    """Through the profile, every job asks for its rule's mem_mb on the first attempt and
    3x on the third (the rules scale memory by attempt; the profile retries twice)."""
    rules = dry_run_resources(tmp_path, "--workflow-profile", "none")
    profile = ["--workflow-profile", str(PROFILE)]
    first = dry_run_resources(tmp_path, *profile)
    third = dry_run_resources(tmp_path, *profile, "--attempt", "3")
    assert set(first) == set(third) == set(rules) and len(rules) > 30
    assert yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"] == 2
    for job, resources in rules.items():
        if job[0] == "all":
            continue
        assert first[job]["mem_mb"] == resources["mem_mb"], job
        assert int(third[job]["mem_mb"]) == 3 * int(resources["mem_mb"]), job
        assert first[job]["runtime"] == third[job]["runtime"] == resources["runtime"], job
