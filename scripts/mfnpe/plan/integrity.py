"""Is an intermediate file whole? The startup check of the files the workflow wrote, and
the quarantine that moves a broken one aside.

Two levels of check:

- structural, in plain Python (no h5py, no torch): HDF5's signature and the superblock's
  end-of-file address against the file's size (a truncated file is shorter); a model
  (``.pt``, torch's zip format) is a zip archive whose members all pass their CRC;
- deep, where h5py and torch can be imported (the workflow's own environment): the file
  holds the kind its path says (``mfnpe.io.kinds``), an HDF5 file's datasets and
  attributes match the CRC-32s written with them (``mfnpe.io.hdf5``), and a model loads
  with ``torch.load(weights_only=True)`` (a pickled object does not).

Only files at the paths the workflow writes (``workflow_files``) are ever judged; a
broken one is moved to ``results/quarantine/<time>/`` with its reason in
``results/quarantine/quarantine.log``, never deleted (:func:`quarantine`).
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SUFFIXES = (".h5", ".hdf5")
MODEL_SUFFIXES = (".pt",)
QUARANTINE = "quarantine"
"""Folder under the results folder that broken files are moved into."""
QUARANTINE_LOG = "quarantine.log"


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


CHECKS = {**{s: _hdf5_fault for s in HDF5_SUFFIXES}, **{s: _model_fault for s in MODEL_SUFFIXES}}
"""File suffix -> its structural check."""


def _deep_hdf5_fault(path: Path, kind: str | None) -> str | None:
    try:
        from mfnpe.io.hdf5 import file_fault
    except ImportError:  # Snakemake's own environment without h5py: structural checks only
        return None
    return file_fault(path, kind)


def _deep_model_fault(path: Path, kind: str | None) -> str | None:
    try:
        import torch
    except ImportError:
        return None
    try:
        content = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # noqa: BLE001 (torch raises many kinds; never unpickle further)
        return f"does not load as weights only ({type(err).__name__}): not a model this " \
               "workflow wrote (a pickled object, or damaged)"
    found = content.get("kind") if isinstance(content, dict) else type(content).__name__
    if kind is not None and found != kind:
        return f"holds {found!r} where this workflow writes a model of kind {kind!r}"
    return None


DEEP_CHECKS = {**{s: _deep_hdf5_fault for s in HDF5_SUFFIXES},
               **{s: _deep_model_fault for s in MODEL_SUFFIXES}}


def fault(path: str | Path, kind: str | None = None, deep: bool = True) -> str | None:
    """What is wrong with the existing file ``path`` (expected to hold ``kind``; None: any),
    or None, also for suffixes that have no check. ``deep``: also the kind, checksums and
    model loading (needs h5py and torch; skipped without them)."""
    path = Path(path)
    suffix = path.suffix.lower()
    check = CHECKS.get(suffix)
    if check is None:
        return None
    if path.stat().st_size == 0:
        return "empty"
    found = check(path)
    if found is None and deep:
        found = DEEP_CHECKS[suffix](path, kind)
    return found


def broken(paths: Iterable[str | Path] | Mapping[str, str | None], deep: bool = True
           ) -> dict[str, str]:
    """``{path: fault}`` of the files among ``paths`` that exist and fail their check;
    ``paths`` may map each path to the kind it must hold."""
    kinds = paths if isinstance(paths, Mapping) else dict.fromkeys(paths)
    found = {}
    for path, kind in kinds.items():
        if os.path.isfile(path):
            why = fault(path, kind, deep=deep)
            if why:
                found[str(path)] = why
    return found


def pattern_regex(pattern: str) -> re.Pattern:
    """A Snakemake path pattern (``results/sims/{pool}/shard-{shard}.h5``) as a regex that
    matches its paths: each wildcard one or more characters other than ``/``."""
    parts = re.split(r"(\{[^{}]+\})", pattern)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def workflow_files(results: str | Path, patterns: Mapping[str, str | None]
                   ) -> dict[str, str | None]:
    """``{path: kind}`` of the existing files under ``results`` that lie at one of the
    workflow's output ``patterns`` (``{pattern: kind it holds, or None}``) and have a check.
    Files elsewhere (a user's own, the quarantine) are never judged."""
    compiled = [(pattern_regex(p), kind) for p, kind in patterns.items()]
    found = {}
    for path in sorted(Path(results).rglob("*")):
        if path.suffix.lower() not in CHECKS or path.name.startswith(".") or not path.is_file():
            continue
        name = path.as_posix()
        for regex, kind in compiled:
            if regex.fullmatch(name):
                found[name] = kind
                break
    return found


class QuarantineError(OSError):
    """A broken file could not be moved aside (a folder that is not writable)."""


@dataclass(frozen=True)
class Moved:
    """A broken file moved aside: where it was, where it is, and why."""

    source: str
    target: str
    fault: str


def _existing(folder: Path) -> Path:
    """The nearest folder at or above ``folder`` that exists."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _cannot_move(source, why: str, target: Path, err: OSError, folder: Path, log: Path) -> str:
    return (f"{source} is broken ({why}) and must be made again, but it cannot be moved "
            f"aside to {target.as_posix()}: {err.strerror or err}. The folder "
            f"{folder.as_posix()} is not writable: make it writable and run again (files "
            f"already moved aside are listed in {log.as_posix()}).")


def quarantine(faults: Mapping[str, str], results: str | Path = "results",
               stamp: str | None = None) -> list[Moved]:
    """Move each broken file of ``faults`` (``{path: fault}``, under ``results``) to
    ``results/quarantine/<stamp>/<its path under results>`` and append one line per file
    to ``results/quarantine/quarantine.log``. Nothing is deleted; moving a file back
    restores it. A folder that is not writable raises :class:`QuarantineError` naming it."""
    results = Path(results)
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    folder = results / QUARANTINE / stamp
    log = results / QUARANTINE / QUARANTINE_LOG
    moved = []
    for source, why in faults.items():
        target = folder / Path(source).relative_to(results)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise QuarantineError(_cannot_move(source, why, target, err,
                                               _existing(target.parent), log)) from err
        try:
            os.replace(source, target)
        except OSError as err:
            raise QuarantineError(_cannot_move(source, why, target, err,
                                               Path(source).parent, log)) from err
        moved.append(Moved(str(source), target.as_posix(), why))
        with open(log, "a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\t{source}\t{target.as_posix()}"
                      f"\t{why}\n")
    return moved
