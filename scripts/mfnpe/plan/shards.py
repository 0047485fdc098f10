"""Pools and shards: how many jobs, and the settings each shard is produced under.

Light on purpose (no numpy): ``workflow/rules/common.smk`` imports it. Pools are rounded
up to whole shards so growing a budget only adds shards; the settings of a shard are
exactly the config sections its content depends on, so Snakemake's params trigger
re-runs a shard only when one of those changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mfnpe.names import FIDELITY
from mfnpe.stimulus.sweeps import simulation_stimulus
from mfnpe.plan.config import simulator_settings
from mfnpe.simulation.experiment import ExperimentSimulation

POOLS = tuple(FIDELITY)


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; known: {POOLS}")


def needed(config: Mapping, pool: str) -> int:
    """Simulations the budgets need from ``pool``."""
    _check_pool(pool)
    budgets = config["budgets"]
    n_hf = max([*budgets["n_hf"], *budgets.get("n_hf_npe_only", [])])
    return {"lf": max(budgets["n_lf"]), "hf": n_hf, "test": budgets["n_test"]}[pool]


def n_shards(config: Mapping, pool: str) -> int:
    """Number of shards (jobs) of ``pool``."""
    return math.ceil(needed(config, pool) / config["shards"][pool])


def pool_size(config: Mapping, pool: str) -> int:
    """Simulations in ``pool``: the need rounded up to whole shards."""
    return n_shards(config, pool) * config["shards"][pool]


def shard_prior_settings(prior: Mapping, seed: int, pool: str, shard: int,
                         shard_size: int) -> dict:
    """The prior settings of one shard, from its parts (the one layout of these keys)."""
    _check_pool(pool)
    return {
        "prior": prior_copy(prior),
        "seed": seed,
        "pool": pool,
        "shard": int(shard),
        "shard_size": shard_size,
    }


def prior_settings(config: Mapping, pool: str, shard: int) -> dict:
    """Everything the parameters of shard ``shard`` of ``pool`` depend on."""
    _check_pool(pool)
    return shard_prior_settings(config["prior"], config["seed"], pool, shard,
                                config["shards"][pool])


def experiment_simulation(config: Mapping, pool: str) -> ExperimentSimulation:
    """What the simulations of ``pool`` depend on besides their parameters and seeds: its
    fidelity's simulator, the model less the inferred constants, the stimulus (the step, or
    a recording's chosen sweeps' protocols, so editing the sweeps or the window re-runs the
    shards), the features and, for a pool of ``traces.pools``, ``traces.dt``."""
    _check_pool(pool)
    inferred = set(config["prior"])
    keep_traces = pool in config["traces"]["pools"]
    return ExperimentSimulation.from_dict({
        "simulator": simulator_settings(config, FIDELITY[pool]),
        "model": {k: v for k, v in config["model"].items() if k not in inferred},
        "stimulus": simulation_stimulus(config["stimulus"]),
        "features": list(config["features"]),
        "trace_dt": config["traces"]["dt"] if keep_traces else None,
    })


def simulation_settings(config: Mapping, pool: str) -> dict:
    """:func:`experiment_simulation` as plain data: the rules' params (an edit re-runs the
    jobs) and what shards and models store of it."""
    return experiment_simulation(config, pool).to_dict()


def shard_settings(config: Mapping, pool: str, shard: int) -> dict:
    """The settings stored in (and expected of) simulation shard ``shard`` of ``pool``."""
    return {**prior_settings(config, pool, shard), **simulation_settings(config, pool)}


def shard_paths(config: Mapping, pool: str, pattern: str) -> list[str]:
    """``pattern`` (with ``{pool}`` and ``{shard}``) formatted for every shard of ``pool``."""
    return [pattern.format(pool=pool, shard=k) for k in range(n_shards(config, pool))]


def prior_copy(prior: Mapping) -> dict:
    """The config's prior section as plain data for job settings: ``[low, high]`` (uniform)
    stays a list, ``{low, high, scale}`` a dict (what ``mfnpe.prior.BoxPrior.from_config``
    reads)."""
    return {name: dict(bounds) if isinstance(bounds, Mapping) else list(bounds)
            for name, bounds in prior.items()}
