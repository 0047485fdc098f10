"""What the data-generation rules do, callable without Snakemake.

``sample_prior_shard`` draws a shard's parameters; ``simulate_shard`` simulates them in
batches on a pool of ``threads`` workers, computes the features of each batch and keeps
only what the shard stores (features, validity, optionally downsampled traces).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mfnpe.simulation import features, simulators
from mfnpe import seeds
from mfnpe.hh.model import constants_table
from mfnpe.io.shards import SimShard
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.prior import BoxPrior

log = logging.getLogger(__name__)


def sample_prior_shard(settings: Mapping) -> tuple[np.ndarray, list[str]]:
    """``(theta (shard_size, d), names)`` for the prior settings of one shard
    (``mfnpe.plan.shards.prior_settings``)."""
    prior = BoxPrior.from_config(settings["prior"])
    rng = seeds.prior_rng(settings["seed"], settings["pool"], settings["shard"])
    return prior.sample(settings["shard_size"], rng), list(prior.names)


def sweep_seeds_of(sim_seeds: np.ndarray, sweep: int) -> np.ndarray:
    """(n,) uint32 seeds of the ``sweep``-th sweep (0-based position) of simulations seeded
    ``sim_seeds`` (n,): the seeds themselves for the first (so a step stimulus is unchanged),
    a per-simulation hash of (seed, position) for the others (independent channel noise)."""
    sim_seeds = np.asarray(sim_seeds, dtype=np.uint32)
    if sweep == 0:
        return sim_seeds
    mixed = sim_seeds.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(sweep)
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(29)
    return (mixed & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _batches(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(start, min(start + size, n)) for start in range(0, n, size)]


def simulate_shard(
    theta: np.ndarray,
    param_names: Sequence[str],
    experiment: ExperimentSimulation,
    sim_seeds: np.ndarray,
    threads: int = 1,
    provenance: Mapping | None = None,
) -> SimShard:
    """Simulate every row of ``theta`` (n, d) and compute its features.

    Parameters
    ----------
    experiment : simulator, model, stimulus, features and trace_dt.
    sim_seeds : (n,) uint32 seeds, one per simulation (a pool's shard:
        ``mfnpe.seeds.simulation_seeds(seed, pool, shard, n)``).
    threads : cores the job may use (numba: one batch per thread; JAX: XLA's pool).
    provenance : the shard's identity (its prior shard's settings: seed, pool, shard...),
        stored in the shard's settings before ``experiment.to_dict()``.

    Returns
    -------
    SimShard with NaN feature rows where the simulation diverged (``valid`` False). Under
    a recording's sweeps every row is simulated under every sweep at the same theta (seeds
    :func:`sweep_seeds_of`): x holds the features of every sweep, sweep after sweep (names
    ``spike_count@5``...), a row is valid when every sweep's trace is, and the traces are
    the sweeps' joined in time.
    """
    start = time.perf_counter()
    n = theta.shape[0]
    sweeps = experiment.stimuli()
    constants = constants_table(experiment.model.to_dict(), theta, param_names)
    if len(sim_seeds) != n:
        raise ValueError(f"{len(sim_seeds)} seeds for {n} simulations")
    sweep_seeds = [sweep_seeds_of(sim_seeds, j) for j in range(len(sweeps))]
    spec = simulators.spec(experiment.simulator.name)
    simulate = simulators.batch_function(experiment.simulator)
    feature_list = list(experiment.features)
    features.check_names(feature_list)  # a ValueError naming an unknown one, first
    trace_dt = experiment.trace_dt
    trace_stride = int(round(trace_dt / experiment.simulator.dt)) if trace_dt else 0

    def run(rows: np.ndarray):
        padded = rows
        if spec.fixed_shape and len(rows) < spec.batch_size:
            padded = np.concatenate([rows, np.full(spec.batch_size - len(rows), rows[0])])
        xs, valid, kept, events, steps = [], np.ones(len(rows), dtype=bool), [], None, 0
        for (stimulus, windows), sweep_seed in zip(sweeps, sweep_seeds):
            out = simulate({k: v[padded] for k, v in constants.items()}, stimulus,
                           seeds=sweep_seed[padded])
            v = out.v[: len(rows)]
            valid &= features.valid_traces(v)
            xs.append(features.compute_features(v, out.dt, windows, feature_list))
            if trace_stride:
                kept.append(v[:, ::trace_stride].copy())
            if out.n_events is not None:
                events = (events or 0) + int(out.n_events[: len(rows)].sum())
            steps += v.shape[1]
        x = np.concatenate(xs, axis=1)
        x[~valid] = np.nan
        return x, valid, np.concatenate(kept, axis=1) if trace_stride else None, events, steps

    with ThreadPoolExecutor(max_workers=threads) as pool:  # a JAX batch runs on XLA's pool of `threads`
        results = list(pool.map(run, _batches(n, spec.batch_size)))

    x = np.concatenate([r[0] for r in results])
    valid = np.concatenate([r[1] for r in results])
    traces = np.concatenate([r[2] for r in results]) if trace_stride else None
    events = [r[3] for r in results if r[3] is not None]
    wall = time.perf_counter() - start
    stats = {
        "wall_time_s": wall,
        "threads": threads,
        "n_simulations": n,
        "n_invalid": int((~valid).sum()),
        "neuron_steps": n * results[0][4] if results else 0,
    }
    if events:
        stats["n_events"] = int(sum(events))
    if stats["n_invalid"]:
        log.warning("%d of %d simulations diverged and are marked invalid", stats["n_invalid"], n)
    return SimShard(
        theta=np.asarray(theta, dtype=np.float64),
        x=x,
        valid=valid,
        param_names=list(param_names),
        feature_names=experiment.feature_names(),
        settings={**(provenance or {}), **experiment.to_dict()},
        stats=stats,
        traces=traces,
        trace_dt=trace_dt,
    )
