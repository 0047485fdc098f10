"""Training and test sets: the first n simulations of a pool, read from its shards."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mfnpe.io.hdf5 import ShardError
from mfnpe.io.shards import read_sim_shard

log = logging.getLogger(__name__)


@dataclass
class SimulationSet:
    """Valid simulations of a pool prefix.

    theta : (n_valid, d) parameters; x : (n_valid, f) features; n_invalid : dropped rows
    (diverged simulations) among the first ``n``.
    """

    theta: np.ndarray
    x: np.ndarray
    param_names: list[str]
    feature_names: list[str]
    n: int
    n_invalid: int


def load_prefix(paths: Sequence[str], expected: Sequence[Mapping], n: int,
                label: str) -> SimulationSet:
    """The first ``n`` simulations of a pool in shard files ``paths`` (in order).

    ``expected`` holds the settings of the leading shards that hold them, in order
    (``mfnpe.plan.runs.prefix_shard_settings``); each shard is checked against its own. A
    simulation budget counts every simulation paid for, so invalid rows are dropped after
    taking the prefix and reported in ``n_invalid``. ``label`` names the data in messages
    (``"hf pool"``).
    """
    if len(paths) < len(expected):
        raise ShardError(f"{label}: {n} simulations need {len(expected)} shards, "
                         f"got {len(paths)}")
    parts = [read_sim_shard(path, settings, traces=False)
             for path, settings in zip(paths, expected)]
    return _valid_rows(parts, n, label)


def load_shards(paths: Sequence[str], expected: Sequence[Mapping], label: str) -> SimulationSet:
    """Every simulation of shard files ``paths`` (in order), each checked against its
    ``expected`` settings; invalid rows are dropped and counted. ``label`` names the data
    in messages."""
    if len(paths) != len(expected):
        raise ValueError(f"{label}: {len(paths)} shard files for {len(expected)} expected shards")
    if not paths:
        raise ShardError(f"{label}: no simulation shards")
    parts = [read_sim_shard(path, settings, traces=False)
             for path, settings in zip(paths, expected)]
    return _valid_rows(parts, sum(len(part.theta) for part in parts), label)


def _valid_rows(parts, n: int, label: str) -> SimulationSet:
    """The valid rows among the first ``n`` of the shards ``parts`` (in order)."""
    theta = np.concatenate([p.theta for p in parts])[:n]
    x = np.concatenate([p.x for p in parts])[:n]
    valid = np.concatenate([p.valid for p in parts])[:n]
    n_invalid = int((~valid).sum())
    if n_invalid:
        log.warning("%s: %d of the first %d simulations are invalid and dropped",
                    label, n_invalid, n)
    if n_invalid == n:
        raise ShardError(f"{label}: all of the first {n} simulations are invalid")
    return SimulationSet(theta[valid], x[valid], parts[0].param_names, parts[0].feature_names,
                         n, n_invalid)
