"""Reproducible randomness: every shard's streams derive from one master seed.

A stream is keyed by (pool, shard, purpose) through ``numpy.random.SeedSequence``'s
spawn key, so a shard's data never depend on how many jobs or threads ran, nor on which
other shards exist.
"""

from __future__ import annotations

import numpy as np

PURPOSES = ("prior", "simulation")


def _sequence(master_seed: int, pool: str, shard: int, purpose: str) -> np.random.SeedSequence:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; known: {PURPOSES}")
    pool_key = int.from_bytes(pool.encode(), "little")  # any pool name, stable across runs
    return np.random.SeedSequence(
        master_seed, spawn_key=(pool_key, int(shard), PURPOSES.index(purpose))
    )


def prior_rng(master_seed: int, pool: str, shard: int) -> np.random.Generator:
    """Generator for drawing the parameters of shard ``shard`` of ``pool``."""
    return np.random.default_rng(_sequence(master_seed, pool, shard, "prior"))


def simulation_seeds(master_seed: int, pool: str, shard: int, n: int) -> np.ndarray:
    """(n,) uint32: one seed per simulation of the shard (simulators seed per simulation)."""
    return _sequence(master_seed, pool, shard, "simulation").generate_state(n, dtype=np.uint32)


def run_seed(master_seed: int, purpose: str, method: str, n_lf: int, n_hf: int, seed: int) -> int:
    """An int seed for training (``purpose`` 'training') or evaluating ('evaluation') one
    model run; distinct runs get independent streams."""
    keys = {"training": 0, "evaluation": 1}
    if purpose not in keys:
        raise ValueError(f"unknown run seed purpose {purpose!r}; known: {list(keys)}")
    method_key = int.from_bytes(method.encode(), "little")
    sequence = np.random.SeedSequence(
        master_seed, spawn_key=(method_key, int(n_lf), int(n_hf), int(seed), 2 + keys[purpose]))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


OBSERVATION_PURPOSES = ("example", "posterior", "predictive", "sequential", "map")
_OBSERVATION_TAG = int.from_bytes(b"observation", "little")


def observation_seeds(master_seed: int, purpose: str, name: str, n: int, *keys) -> np.ndarray:
    """(n,) uint32 seeds for work on recording ``name``: ``'example'`` (simulating a
    synthetic example), ``'posterior'`` (drawing from one model; ``keys`` its method,
    n_lf, n_hf, seed), ``'predictive'`` (HF simulations at one model's draws; same keys),
    ``'sequential'`` (one sequential chain; ``keys`` its method and seed) or ``'map'`` (HF
    simulations at one model's most probable point; ``keys`` as for ``'predictive'``). A
    purpose's index keys its streams: new purposes go last."""
    if purpose not in OBSERVATION_PURPOSES:
        raise ValueError(f"unknown observation seed purpose {purpose!r}; "
                         f"known: {OBSERVATION_PURPOSES}")
    key = [int.from_bytes(k.encode(), "little") if isinstance(k, str) else int(k) for k in keys]
    sequence = np.random.SeedSequence(master_seed, spawn_key=(
        _OBSERVATION_TAG, int.from_bytes(name.encode(), "little"),
        OBSERVATION_PURPOSES.index(purpose), *key))
    return sequence.generate_state(n, dtype=np.uint32)
