"""Prior shards and simulation shards: the pools' HDF5 files (docs/method.md, "Files")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfnpe.io import kinds
from mfnpe.io.hdf5 import ShardError, atomic_write, canonical, check_file, open_file, read_dataset, read_names

PRIOR_KIND = kinds.PRIOR_SHARD
SIM_KIND = kinds.SIM_SHARD


@dataclass
class SimShard:
    """One simulation shard.

    Attributes
    ----------
    theta : (n, d) float64 inferred parameters, columns ``param_names``.
    x : (n, f) float64 summary features, columns ``feature_names``; NaN rows where not valid.
    valid : (n,) bool, False where the simulation diverged (never train on those rows).
    settings : what produced the shard (prior, simulator, model, stimulus, features, seed...).
    stats : run statistics (wall time [s], invalid count, channel events...).
    traces : (n, T) float32 voltage [mV] sampled every ``trace_dt`` [ms], or None.
    """

    theta: np.ndarray
    x: np.ndarray
    valid: np.ndarray
    param_names: list[str]
    feature_names: list[str]
    settings: dict
    stats: dict = field(default_factory=dict)
    traces: np.ndarray | None = None
    trace_dt: float | None = None


def write_prior_shard(path, theta: np.ndarray, param_names, settings: Mapping,
                      stats: Mapping | None = None) -> None:
    """Write ``theta`` (n, d) with its column names, the settings that drew it and
    (optionally) how it was drawn (``stats``: acceptance rate, acquired rows...)."""
    def write(handle):
        handle.attrs["kind"] = PRIOR_KIND
        handle.attrs["settings"] = canonical(settings)
        if stats is not None:
            handle.attrs["stats"] = canonical(stats)
        handle.attrs["param_names"] = json.dumps(list(param_names))
        handle.create_dataset("theta", data=np.asarray(theta, dtype=np.float64))

    atomic_write(path, write)


def read_prior_shard(
    path, expected_settings: Mapping | None = None
) -> tuple[np.ndarray, list[str], dict]:
    """``(theta (n, d), param_names, settings)``; checks kind, settings (if given), shapes."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, PRIOR_KIND, expected_settings)
        names = read_names(handle, path, "param_names")
        theta = read_dataset(handle, path, "theta", 2)
    if theta.shape[1] != len(names):
        raise ShardError(f"{path}: theta has {theta.shape[1]} columns for names {names}")
    return theta, names, settings


def write_sim_shard(path, shard: SimShard) -> None:
    """Write a :class:`SimShard` (compressed traces when present)."""
    def write(handle):
        handle.attrs["kind"] = SIM_KIND
        handle.attrs["settings"] = canonical(shard.settings)
        handle.attrs["param_names"] = json.dumps(list(shard.param_names))
        handle.attrs["feature_names"] = json.dumps(list(shard.feature_names))
        handle.attrs["stats"] = canonical(shard.stats)
        handle.create_dataset("theta", data=np.asarray(shard.theta, dtype=np.float64))
        handle.create_dataset("x", data=np.asarray(shard.x, dtype=np.float64))
        handle.create_dataset("valid", data=np.asarray(shard.valid, dtype=bool))
        if shard.traces is not None:
            handle.create_dataset(
                "traces", data=np.asarray(shard.traces, dtype=np.float32),
                compression="gzip", compression_opts=4, shuffle=True,
            )
            handle["traces"].attrs["dt"] = float(shard.trace_dt)

    atomic_write(path, write)


def read_sim_shard(path, expected_settings: Mapping | None = None, traces: bool = True) -> SimShard:
    """Read and check a simulation shard (kind, settings if given, shapes)."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, SIM_KIND, expected_settings)
        param_names = read_names(handle, path, "param_names")
        feature_names = read_names(handle, path, "feature_names")
        theta = read_dataset(handle, path, "theta", 2)
        x = read_dataset(handle, path, "x", 2)
        valid = read_dataset(handle, path, "valid", 1)
        stored_traces, trace_dt = None, None
        if traces and "traces" in handle:
            stored_traces = read_dataset(handle, path, "traces", 2)
            trace_dt = float(handle["traces"].attrs["dt"])
        stats = json.loads(handle.attrs.get("stats", "{}"))
    n = theta.shape[0]
    if theta.shape[1] != len(param_names) or x.shape != (n, len(feature_names)) or valid.shape != (n,):
        raise ShardError(
            f"{path}: inconsistent shapes theta {theta.shape}, x {x.shape}, valid {valid.shape} "
            f"for {len(param_names)} parameters and {len(feature_names)} features"
        )
    return SimShard(theta, x, valid.astype(bool), param_names, feature_names, settings, stats,
                    stored_traces, trace_dt)
