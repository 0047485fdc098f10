"""HDF5 helpers shared by every file the workflow writes (docs/method.md, "Files").

Every file carries a ``kind`` attribute (its schema and version) and the JSON
``settings`` it was produced under. Readers check both against what the caller expects
and fail with a :class:`ShardError` naming the file and the fault. Writers write to a
temporary file and rename it, so a killed job never leaves a half-written result behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

class ShardError(ValueError):
    """A file is missing, truncated, of another kind or from another config."""

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
