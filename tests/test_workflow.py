"""End to end: the tiny config through Snakemake, then the shards' contents."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mfnpe import shards
from mfnpe.config import load_config
from mfnpe.io import read_prior_shard, read_sim_shard
from mfnpe.pipeline import simulate_shard

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
         "--configfile", str(TINY), "-d", str(workdir), *args],
        capture_output=True, text=True, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def config():
    return load_config(TINY)


def test_every_shard_has_the_expected_contents(tiny_run, config):
    for pool in shards.POOLS:
        size = config["shards"][pool]
        for k in range(shards.n_shards(config, pool)):
            shard = read_sim_shard(tiny_run / f"results/sims/{pool}/shard-{k}.h5",
                                   expected_settings=shards.shard_settings(config, pool, k))
            assert shard.theta.shape == (size, 3) and shard.x.shape == (size, len(config["features"]))
            assert shard.param_names == ["gNa", "gK", "gL"]
            assert shard.feature_names == config["features"]
            assert np.isfinite(shard.x[shard.valid]).all()
            assert shard.valid.mean() > 0.9
            lows, highs = np.array(list(config["prior"].values())).T
            assert ((shard.theta >= lows) & (shard.theta <= highs)).all()
            theta, _, _ = read_prior_shard(tiny_run / f"results/prior/{pool}/shard-{k}.h5")
            assert np.array_equal(theta, shard.theta)
            if pool == "test":
                assert shard.traces.shape == (size, int(config["stimulus"]["duration"] / 0.1))
                assert shard.trace_dt == 0.1
            else:
                assert shard.traces is None
            assert (tiny_run / f"results/logs/simulate/{pool}/shard-{k}.log").read_text()
            assert (tiny_run / f"results/benchmarks/simulate/{pool}/shard-{k}.tsv").exists()
    # the pools hold different parameters: independent streams
    hf0 = read_sim_shard(tiny_run / "results/sims/hf/shard-0.h5").theta
    test0 = read_sim_shard(tiny_run / "results/sims/test/shard-0.h5").theta
    assert not np.isin(hf0[:, 0], test0[:, 0]).any()


def test_shards_do_not_depend_on_jobs_or_threads(tiny_run, config):
    """Re-simulate shards in this process with 2 threads: identical to the 2-job workflow run."""
    for pool, k in (("lf", 1), ("hf", 1)):
        stored = read_sim_shard(tiny_run / f"results/sims/{pool}/shard-{k}.h5")
        again = simulate_shard(stored.theta, stored.param_names,
                               shards.shard_settings(config, pool, k), threads=2)
        assert np.array_equal(again.x, stored.x, equal_nan=True)
        assert np.array_equal(again.valid, stored.valid)


def test_a_complete_run_has_nothing_left_to_do(tiny_run):
    run = snakemake(tiny_run, "-n", "--cores", "1")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr
