"""HDF5 files of the workflow: prior shards and simulation shards (DESIGN.md §2.2).

Every file carries a ``kind`` attribute (its schema and version) and the JSON
``settings`` it was produced under. Readers check both against what the caller expects
and fail with a :class:`ShardError` naming the file and the fault. Writers write to a
temporary file and rename it, so a killed job never leaves a half-written result behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

PRIOR_KIND = "mfnpe/prior-shard/1"
SIM_KIND = "mfnpe/sim-shard/1"


class ShardError(ValueError):
    """A file is missing, truncated, of another kind or from another config."""


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


def canonical(settings: Mapping) -> str:
    """Settings as canonical JSON (sorted keys): equal settings give equal strings."""
    return json.dumps(settings, sort_keys=True, default=float)


def atomic_write(path: Path, write) -> None:
    """Call ``write(handle)`` on a temporary HDF5 file, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def open_file(path: Path) -> h5py.File:
    """Open ``path`` read-only; a missing or unreadable file raises :class:`ShardError`."""
    path = Path(path)
    if not path.exists():
        raise ShardError(f"{path}: file does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ShardError(f"{path}: not a readable HDF5 file (truncated or corrupted?): {err}") from err


def first_difference(stored, expected, prefix: str = "") -> str:
    """The first setting (``a/b/c``) where two nested settings differ, described; "" if equal."""
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in sorted(set(stored) | set(expected)):
            where = f"{prefix}/{key}" if prefix else str(key)
            if key not in stored:
                return f"{where} is missing in the file"
            if key not in expected:
                return f"{where} is in the file but not in the config"
            found = first_difference(stored[key], expected[key], where)
            if found:
                return found
        return ""
    if json.dumps(stored, default=float) != json.dumps(expected, default=float):
        return f"{prefix or 'settings'} is {stored!r} in the file but {expected!r} in the config"
    return ""


def check_file(handle: h5py.File, path: Path, kind: str, expected: Mapping | None) -> dict:
    """Check the file's ``kind`` and (if given) its settings; return the stored settings."""
    found_kind = handle.attrs.get("kind")
    if found_kind != kind:
        raise ShardError(f"{path}: expected a file of kind {kind!r}, found {found_kind!r}")
    try:
        settings = json.loads(handle.attrs["settings"])
    except (KeyError, ValueError) as err:
        raise ShardError(f"{path}: missing or unreadable 'settings' attribute") from err
    if expected is not None:
        expected = json.loads(canonical(expected))
        difference = first_difference(settings, expected)
        if difference:
            raise ShardError(f"{path} was written under another config: {difference}")
    return settings


def read_dataset(handle: h5py.File, path: Path, name: str, ndim: int) -> np.ndarray:
    """Dataset ``name`` with ``ndim`` dimensions, or a :class:`ShardError` naming the file."""
    if name not in handle:
        raise ShardError(f"{path}: dataset {name!r} is missing")
    try:
        data = handle[name][()]
    except OSError as err:
        raise ShardError(f"{path}: dataset {name!r} cannot be read (truncated?): {err}") from err
    if data.ndim != ndim:
        raise ShardError(f"{path}: dataset {name!r} has {data.ndim} dimensions, expected {ndim}")
    return data


def read_names(handle: h5py.File, path: Path, attr: str) -> list[str]:
    """The JSON list of names stored in attribute ``attr``."""
    if attr not in handle.attrs:
        raise ShardError(f"{path}: attribute {attr!r} is missing")
    return [str(name) for name in json.loads(handle.attrs[attr])]


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
