"""Is an intermediate file whole? Cheap structural checks, in plain Python (no h5py, no
torch), that the Snakefile runs on existing intermediates before it schedules anything.

- HDF5 (shards, evaluations, observation files): the signature, and the superblock's
  end-of-file address against the file's size (a truncated file is shorter);
- models (``.pt``, torch's zip format): a zip archive whose members all pass their CRC.

A file that fails is one no job could read; the workflow removes it so that it is made
again (the data are deterministic) with everything that depends on it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _hdf5_fault(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head[:8] != HDF5_SIGNATURE:
        return "not an HDF5 file (no HDF5 signature)"
    version = head[8]
    if version in (0, 1):  # superblock v0/v1: addresses after 16 (v1: 20) bytes of fields
        offsets, first = head[13], 24 + (4 if version == 1 else 0)
    elif version in (2, 3):
        offsets, first = head[9], 12
    else:
        return f"unknown HDF5 superblock version {version}"
    base = int.from_bytes(head[first:first + offsets], "little")
    end = int.from_bytes(head[first + 2 * offsets:first + 3 * offsets], "little")
    size = os.path.getsize(path)
    if base + end > size:
        return f"truncated: {size} bytes, the HDF5 superblock says {base + end}"
    return None


def _model_fault(path: Path) -> str | None:
    if not zipfile.is_zipfile(path):
        return "not a model file (torch saves a zip archive)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"damaged zip archive: {err}"
    return f"damaged member {bad!r}" if bad else None


CHECKS = {".h5": _hdf5_fault, ".hdf5": _hdf5_fault, ".pt": _model_fault}
"""File suffix -> its check."""


def fault(path: str | Path) -> str | None:
    """What is wrong with the existing file ``path``, or None (also for unchecked kinds)."""
    path = Path(path)
    check = CHECKS.get(path.suffix.lower())
    if check is None:
        return None
    if path.stat().st_size == 0:
        return "empty"
    return check(path)


def broken(paths: Iterable[str | Path]) -> dict[str, str]:
    """``{path: fault}`` of the files among ``paths`` that exist and fail their check."""
    found = {}
    for path in paths:
        if os.path.isfile(path):
            why = fault(path)
            if why:
                found[str(path)] = why
    return found
