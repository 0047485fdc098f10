"""HDF5 helpers shared by every file the workflow writes (docs/method.md, "Files").

Every file carries a ``kind`` attribute (its schema and version; ``mfnpe.io.kinds``) and
the JSON ``settings`` it was produced under. Readers check both against what the caller
expects and fail with a :class:`ShardError` naming the file and the fault. Writers write to
a temporary file and rename it, so a killed job never leaves a half-written result behind,
and store a CRC-32 of every dataset and of the attributes (the ``checksums`` attribute), so
that bytes changed on disk after the write are found by every read and by the startup
check (:func:`file_fault`).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

CHECKSUMS = "checksums"
"""Root attribute: JSON ``{dataset path: CRC-32, "@attrs": CRC-32 of the root attributes}``."""
ROOT_ATTRS = "@attrs"


class ShardError(ValueError):
    """A file is missing, truncated, of another kind or from another config."""


def _plain(value):
    """An attribute value as plain JSON-able Python (arrays as lists, bytes decoded)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.dtype.kind == "O" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _attrs_crc(attrs, skip: str | None = None) -> int:
    plain = {key: _plain(attrs[key]) for key in attrs if key != skip}
    return zlib.crc32(json.dumps(plain, sort_keys=True, default=str).encode())


def _dataset_crc(dataset: h5py.Dataset, data=None) -> int:
    """CRC-32 of a dataset's values (its bytes; strings by content), shape, dtype and
    attributes; ``data``: its values, when already read."""
    data = np.asarray(dataset[()] if data is None else data)
    if data.dtype.kind == "O":  # variable-length strings: their content, not pointers
        raw = b"\0".join(v if isinstance(v, bytes) else str(v).encode() for v in data.ravel())
    else:
        raw = np.ascontiguousarray(data).tobytes()
    crc = zlib.crc32(f"{data.dtype.str}{data.shape}".encode())
    return zlib.crc32(raw, zlib.crc32(str(_attrs_crc(dataset.attrs)).encode(), crc))


def checksums(handle: h5py.File) -> dict[str, int]:
    """``{dataset path: CRC-32}`` of every dataset in the file, and ``"@attrs"``: the root
    attributes' (the checksums attribute aside)."""
    found = {ROOT_ATTRS: _attrs_crc(handle.attrs, skip=CHECKSUMS)}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = _dataset_crc(item)

    handle.visititems(visit)
    return found


def stored_checksums(handle: h5py.File) -> dict[str, int] | None:
    """The checksums written with the file, or None for a file written without them."""
    if CHECKSUMS not in handle.attrs:
        return None
    return {key: int(value) for key, value in json.loads(handle.attrs[CHECKSUMS]).items()}


def checksum_fault(handle: h5py.File) -> str | None:
    """What in an open file no longer matches the checksums written with it, or None (also
    for a file written without checksums)."""
    stored = stored_checksums(handle)
    if stored is None:
        return None
    try:
        found = checksums(handle)
    except (OSError, ValueError, KeyError) as err:
        return f"its data cannot be read ({type(err).__name__}: {err})"
    for name in sorted(set(stored) | set(found)):
        if name not in found:
            return f"dataset {name!r} is missing"
        if name not in stored:
            return f"dataset {name!r} was not in the file when it was written"
        if stored[name] != found[name]:
            what = "the attributes no longer match" if name == ROOT_ATTRS else \
                f"dataset {name!r} no longer matches"
            return f"{what} the checksum written with the file (changed on disk)"
    return None


def file_fault(path, kind: str | None = None) -> str | None:
    """What is wrong with the HDF5 file ``path`` for a reader expecting ``kind`` (None: any
    or none), or None: it opens, holds that kind and matches its checksums."""
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        return f"not a readable HDF5 file ({err})"
    with handle:
        if kind is not None:
            found = handle.attrs.get("kind")
            if found != kind:
                return (f"holds kind {_plain(found)!r} where this workflow writes {kind!r} "
                        "(a file this workflow did not write, or of an older version)")
        return checksum_fault(handle)


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
            handle.attrs[CHECKSUMS] = json.dumps(checksums(handle), sort_keys=True)
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
    stored = stored_checksums(handle)
    if stored is not None and name in stored and stored[name] != _dataset_crc(handle[name], data):
        raise ShardError(
            f"{path}: dataset {name!r} does not match the checksum written with it (its bytes "
            "changed on disk); the next run of the workflow moves the file aside and makes it "
            "again")
    if data.ndim != ndim:
        raise ShardError(f"{path}: dataset {name!r} has {data.ndim} dimensions, expected {ndim}")
    return data


def read_names(handle: h5py.File, path: Path, attr: str) -> list[str]:
    """The JSON list of names stored in attribute ``attr``."""
    if attr not in handle.attrs:
        raise ShardError(f"{path}: attribute {attr!r} is missing")
    return [str(name) for name in json.loads(handle.attrs[attr])]
