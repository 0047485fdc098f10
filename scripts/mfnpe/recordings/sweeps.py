"""Observations under a recording stimulus: the chosen sweeps of one cell, each with its
own feature windows (docs/recordings.md, "Bring your own recording").

A :class:`SweepRecording` is read from the configured ABF or NWB file
(``mfnpe.recordings.ephys``, at the file's own rate, cropped to ``window_ms``) or from a
synthetic example simulated under the same sweeps (HDF5: ``voltage`` (S, T) [mV],
attributes ``dt`` [ms], ``sweeps`` and ``true_theta``). :func:`read_observed` reads either
this or a single-step :class:`~mfnpe.recordings.step.Recording`, so the rule scripts serve
both (their features: ``mfnpe.observation.observed``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mfnpe.io.hdf5 import atomic_write
from mfnpe.names import EPHYS_SUFFIXES
from mfnpe.recordings.errors import RecordingError
from mfnpe.recordings.step import Recording, read_recording
from mfnpe.stimulus import protocols as protocol_tools
from mfnpe.stimulus.sweeps import is_recording

"""Files read with ``mfnpe.recordings.ephys``; a synthetic multi-sweep example is ``.h5``/``.hdf5``."""


@dataclass
class SweepRecording:
    """One cell's chosen sweeps, each from time 0 of the window.

    Attributes
    ----------
    name : the recording's name (its file stem).
    sweeps : (S,) the sweep indices, in the stimulus's order.
    voltages : S arrays (T_j,) float64 [mV], sample k at time ``k * dts[j]``.
    dts : (S,) sampling interval of each sweep [ms].
    true_theta : ``{name: value}`` of a synthetic recording, else None.
    path : the file it was read from, or None.
    """

    name: str
    sweeps: list[int]
    voltages: list[np.ndarray]
    dts: list[float]
    true_theta: dict | None = None
    path: Path | None = None


def read_sweep_recording(path, protocol: Mapping) -> SweepRecording:
    """The sweeps of ``protocol["protocols"]`` from ``path``, checked against them.

    Parameters
    ----------
    path : the configured ``.abf``/``.nwb`` file, or a synthetic example (``.h5``).
    protocol : ``mfnpe.plan.observations.protocol``: ``protocols`` (the sweeps' plain
        protocols in window time) and ``window_ms`` ([start, stop] ms, or None).

    Raises
    ------
    RecordingError naming the file and sweep: a protocol that differs from the one the
    posteriors were trained on, a single-step (CSV) file, or any reading fault.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    expected = [protocol_tools.from_settings(p) for p in protocol["protocols"]]
    sweeps = [int(p["sweep"]) for p in protocol["protocols"]]
    if suffix in EPHYS_SUFFIXES:
        from mfnpe.recordings.ephys import open_ephys  # pyabf or pynwb: only for these files

        window = protocol.get("window_ms")
        voltages, dts = [], []
        with open_ephys(path) as ephys:
            for index, trained in zip(sweeps, expected):
                sweep = ephys.read(index, tuple(window) if window is not None else None)
                _check_protocol(path, index, protocol_tools.crop(sweep.protocol, window), trained)
                voltages.append(np.asarray(sweep.voltage, dtype=float))
                dts.append(sweep.dt)
        return SweepRecording(path.stem, sweeps, voltages, dts, None, path)
    if suffix not in (".h5", ".hdf5"):
        raise RecordingError(f"{path}: a single-step {suffix} recording cannot be observed under "
                             "a recording stimulus (stimulus/recording): its features need "
                             "the chosen sweeps' protocols")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise RecordingError(f"{path}: not a readable HDF5 file: {err}") from err
    with handle:
        if "sweeps" not in handle.attrs:
            raise RecordingError(f"{path}: no 'sweeps' attribute: a single-step recording, "
                                 "not one simulated under the recording stimulus's sweeps")
        stored = [protocol_tools.from_settings(p) for p in json.loads(handle.attrs["protocols"])]
        if json.loads(handle.attrs["sweeps"]) != sweeps:
            raise RecordingError(f"{path}: sweeps {json.loads(handle.attrs['sweeps'])}, but the "
                                 f"posteriors were trained on sweeps {sweeps}")
        for index, own, trained in zip(sweeps, stored, expected):
            _check_protocol(path, index, own, trained)
        voltage = np.asarray(handle["voltage"][()], dtype=float)
        dt = float(handle.attrs["dt"])
        true = json.loads(handle.attrs["true_theta"]) if "true_theta" in handle.attrs else None
    steps = [protocol_tools.from_settings(p).n_steps(dt) for p in protocol["protocols"]]
    return SweepRecording(path.stem, sweeps, [voltage[j, :n] for j, n in enumerate(steps)],
                          [dt] * len(sweeps), true, path)


def _check_protocol(path, index: int, own, trained) -> None:
    if not own.matches(trained):
        raise RecordingError(f"{path}: sweep {index}: its protocol ({protocol_tools.describe(own)})"
                             f" is not the one the posteriors were trained on "
                             f"({protocol_tools.describe(trained)})")


def write_sweep_recording(path, recording: SweepRecording, protocols: Sequence[Mapping]) -> None:
    """Write a synthetic multi-sweep recording as HDF5 (equal dts; sweeps padded with NaN
    to the longest), with its sweeps' plain ``protocols``."""
    length = max(len(v) for v in recording.voltages)
    voltage = np.full((len(recording.voltages), length), np.nan)
    for j, v in enumerate(recording.voltages):
        voltage[j, :len(v)] = v

    def write(handle):
        handle.create_dataset("voltage", data=voltage, compression="gzip", shuffle=True,
                              track_times=False)
        handle["voltage"].attrs["unit"] = "mV"
        handle.attrs["dt"] = float(recording.dts[0])
        handle.attrs["sweeps"] = json.dumps([int(s) for s in recording.sweeps])
        handle.attrs["protocols"] = json.dumps([dict(p) for p in protocols])
        if recording.true_theta is not None:
            handle.attrs["true_theta"] = json.dumps(
                {k: float(v) for k, v in recording.true_theta.items()})

    atomic_write(path, write)


def read_observed(path, protocol: Mapping) -> Recording | SweepRecording:
    """A recording for the posteriors' ``protocol`` (``mfnpe.plan.observations.protocol``):
    the sweeps of a recording stimulus, or the single step."""
    if is_recording(protocol):
        return read_sweep_recording(path, protocol)
    return read_recording(path, protocol)
