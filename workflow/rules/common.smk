# Validation and helpers only; stage files hold rules.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from mfnpe.config import validate_config
from mfnpe import shards

validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")


wildcard_constraints:
    pool="|".join(shards.POOLS),
    shard=r"\d+",


SIM_SHARD = "results/sims/{pool}/shard-{shard}.h5"
PRIOR_SHARD = "results/prior/{pool}/shard-{shard}.h5"


def all_sim_shards():
    """Every simulation shard of every pool."""
    return [
        path
        for pool in shards.POOLS
        for path in shards.shard_paths(config, pool, SIM_SHARD)
    ]


def all_outputs():
    """What `rule all` builds (grows with the inference and evaluation stages)."""
    return all_sim_shards()


def prior_params(wildcards):
    return shards.prior_settings(config, wildcards.pool, int(wildcards.shard))


def simulation_params(wildcards):
    return shards.simulation_settings(config, wildcards.pool)


def simulate_mem_mb(wildcards):
    """Memory of a simulation job [MB]: about 3x the peak measured on the default config
    (467 MB for a JAX LF shard, 184 MB for a numba HF shard; benchmark max_rss)."""
    return 1500 if shards.FIDELITY[wildcards.pool] == "lf" else 600


def simulate_runtime(wildcards):
    """Wall-time limit of a simulation job [min], generous for the default simulators."""
    return 60 if wildcards.pool == "lf" else 120
