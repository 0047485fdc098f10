"""Voltage recordings under the current-step protocol: read, check, write (HDF5 and CSV).

The format is described for users in ``resources/observations/README.md``. A recording is
checked against the protocol the trained posteriors assume; every fault raises a
:class:`RecordingError` whose message starts with the file and names the fault.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mfnpe.io.hdf5 import atomic_write
from mfnpe.names import RECORDING_SUFFIXES as SUFFIXES
from mfnpe.recordings.errors import RecordingError

STIMULUS_KEYS = {"t_on": "ms", "t_off": "ms", "amplitude": "µA/cm²"}
"""Stimulus key (stored as ``stimulus_<key>``) -> unit."""
UNITS = {"time": "ms", "voltage": "mV"}
TRUE_PREFIX = "true_"
"""CSV header keys ``true_<name>`` hold the known parameters of a synthetic recording."""
SAMPLING_TOLERANCE = 0.01
"""Relative deviation of a sampling interval from the mean one still called uniform."""
MAX_ABS_MV = 1000.0
"""A membrane potential beyond this [mV] is no membrane potential in mV."""
PHYSIOLOGICAL_MV = (-150.0, 60.0)
"""Where a membrane potential's median [mV] lies; outside, the unit or scale is wrong."""


@dataclass
class Recording:
    """One membrane-voltage recording under a current step.

    Attributes
    ----------
    name : the recording's name (its file stem); names its results.
    time : (T,) float64 sample times [ms], ``time[k] = k * dt``.
    voltage : (T,) float64 membrane potential [mV].
    dt : sampling interval [ms].
    stimulus : ``{"t_on": ms, "t_off": ms, "amplitude": µA/cm²}``.
    true_theta : ``{name: value}`` of a synthetic recording's parameters, else None.
    path : the file it was read from, or None.
    """

    name: str
    time: np.ndarray
    voltage: np.ndarray
    dt: float
    stimulus: dict
    true_theta: dict | None = None
    path: Path | None = None


def _number(path, key: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RecordingError(f"{path}: {key} is {value!r}, not a number") from None


def _read_hdf5(path: Path, needed: int) -> tuple[dict, dict, dict]:
    """``(arrays, units, metadata)`` of an HDF5 recording; the arrays hold only its first
    ``needed`` samples (h5py reads just that slice from the file)."""
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise RecordingError(f"{path}: not a readable HDF5 file: {err}") from err
    arrays, units = {}, {}
    with handle:
        for name in UNITS:
            if name not in handle:
                raise RecordingError(f"{path}: dataset {name!r} is missing (time [ms] and "
                                     "voltage [mV] are needed)")
            dataset = handle[name]
            if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
                kind = dataset.dtype if isinstance(dataset, h5py.Dataset) else "a group"
                raise RecordingError(f"{path}: {name!r} holds {kind}, not numbers (expected a "
                                     f"dataset of {name} samples)")
            units[name] = dataset.attrs.get("unit")
            if isinstance(units[name], bytes):
                units[name] = units[name].decode()
            if units[name] is None:
                raise RecordingError(f"{path}: dataset {name!r} has no 'unit' attribute "
                                     f"(expected {UNITS[name]!r})")
        shapes = {name: handle[name].shape for name in UNITS}
        if len(shapes["time"]) != 1 or shapes["voltage"] != shapes["time"]:
            raise RecordingError(_shape_fault(path, shapes["time"], shapes["voltage"]))
        for name in UNITS:
            arrays[name] = np.asarray(handle[name][:needed], dtype=float)
        metadata = {key: handle.attrs[key] for key in handle.attrs}
    if "true_theta" in metadata:
        try:
            metadata.update({TRUE_PREFIX + k: v
                             for k, v in json.loads(metadata.pop("true_theta")).items()})
        except (ValueError, AttributeError) as err:
            raise RecordingError(f"{path}: attribute 'true_theta' is no JSON object "
                                 "{name: value}") from err
    return arrays, units, metadata


def _read_csv(path: Path, needed: int) -> tuple[dict, dict, dict]:
    """``(arrays, units, metadata)`` of a CSV recording: ``# key: value`` lines, a header
    row ``time_<unit>,voltage_<unit>``, then one sample per row. Streamed: the lines up to
    the header, then at most ``needed`` sample rows are read, so memory does not grow with
    the file."""
    metadata, header = {}, None
    try:
        with open(path) as handle:
            while header is None:
                line = handle.readline()
                if not line:
                    break
                text = line.strip()
                if text.startswith("#"):
                    key, colon, value = text[1:].partition(":")
                    if colon:
                        metadata[key.strip()] = value.strip()
                elif text:
                    header = [column.strip() for column in text.split(",")]
            if header is not None:
                columns, units = _csv_columns(path, header)
                try:
                    data = np.loadtxt(handle, delimiter=",", ndmin=2, max_rows=needed,
                                      dtype=np.float64)
                except UnicodeDecodeError:
                    raise
                except ValueError as err:
                    raise RecordingError(f"{path}: cannot read the samples after the header "
                                         f"row: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise RecordingError(f"{path}: not a readable text file: {err}") from err
    if header is None:
        raise RecordingError(f"{path}: no header row (expected 'time_ms,voltage_mV')")
    if data.shape[0] == 0 or data.shape[1] != len(header):
        raise RecordingError(f"{path}: expected rows of {len(header)} numbers after the header "
                             f"row, found an array of shape {data.shape}")
    return {name: data[:, index] for name, index in columns.items()}, units, metadata


def _csv_columns(path: Path, header: list[str]) -> tuple[dict, dict]:
    """``({quantity: column index}, {quantity: unit})`` of a CSV header row."""
    columns, units = {}, {}
    for index, column in enumerate(header):
        quantity, _, unit = column.partition("_")
        if quantity in UNITS and unit:
            if quantity in columns:
                raise RecordingError(f"{path}: the header row {header} has two {quantity} "
                                     f"columns ({header[columns[quantity]]!r} and {column!r})")
            columns[quantity], units[quantity] = index, unit
    for name in UNITS:
        if name not in columns:
            raise RecordingError(f"{path}: no {name} column in the header row {header} "
                                 "(expected 'time_ms,voltage_mV')")
    return columns, units


def _shape_fault(path, time_shape: tuple, voltage_shape: tuple) -> str:
    return (f"{path}: time {time_shape} and voltage {voltage_shape} must be 1-D arrays of the "
            "same length (at least 2 samples)")


def _check_samples(path, time: np.ndarray, voltage: np.ndarray, dt_expected: float) -> float:
    """The sampling interval [ms] of uniformly sampled, finite ``time`` and ``voltage`` (T,)."""
    if time.ndim != 1 or voltage.shape != time.shape or len(time) < 2:
        raise RecordingError(_shape_fault(path, time.shape, voltage.shape))
    for name, values in (("time", time), ("voltage", voltage)):
        bad = ~np.isfinite(values)
        if bad.any():
            first = np.flatnonzero(bad)[0]
            raise RecordingError(f"{path}: {bad.sum()} NaN or infinite {name} samples, the "
                                 f"first at sample {first} (t = {time[first]:g} ms)")
    steps = np.diff(time)
    if (steps <= 0).any():
        k = np.flatnonzero(steps <= 0)[0] + 1
        raise RecordingError(f"{path}: time is not strictly increasing at sample {k} "
                             f"(t = {time[k]:g} ms after {time[k - 1]:g} ms)")
    dt = (time[-1] - time[0]) / (len(time) - 1)
    if np.abs(steps - dt).max() > SAMPLING_TOLERANCE * dt:
        raise RecordingError(f"{path}: non-uniform sampling: intervals range from "
                             f"{steps.min():g} to {steps.max():g} ms")
    if abs(time[0]) > SAMPLING_TOLERANCE * dt:
        raise RecordingError(f"{path}: time starts at {time[0]:g} ms, expected 0 (the start "
                             "of the protocol)")
    if abs(dt - dt_expected) > 1e-4 * dt_expected:
        hint = ""
        if abs(1000 * dt - dt_expected) <= 1e-4 * dt_expected:
            hint = "; the time looks like seconds (x1000 gives the expected interval)"
        raise RecordingError(f"{path}: sampling interval {dt:g} ms, but the posteriors were "
                             f"trained on traces sampled every {dt_expected:g} ms{hint}")
    low, median, high = np.percentile(voltage, [0.5, 50.0, 99.5])
    if max(abs(low), abs(median), abs(high)) < 1.0:
        raise RecordingError(
            f"{path}: voltage looks like volts (median {median:.4g}, 99% of samples within "
            f"[{low:.4g}, {high:.4g}]: a membrane potential in mV rests near -70); expected mV")
    if not PHYSIOLOGICAL_MV[0] <= median <= PHYSIOLOGICAL_MV[1]:
        raise RecordingError(
            f"{path}: median voltage {median:.4g} mV is outside the physiological range "
            f"{list(PHYSIOLOGICAL_MV)} mV (wrong unit or scale?)")
    if np.abs(voltage).max() > MAX_ABS_MV:
        raise RecordingError(f"{path}: voltage reaches {np.abs(voltage).max():g}, not a "
                             "membrane potential in mV")
    return float(dt)


def _stimulus(path, metadata: Mapping, protocol: Mapping) -> dict:
    """The recording's stimulus, checked against the protocol (amplitude None: not checked)."""
    missing = [f"stimulus_{key}" for key in STIMULUS_KEYS if f"stimulus_{key}" not in metadata]
    if missing:
        raise RecordingError(f"{path}: stimulus key(s) {missing} missing (the stimulus "
                             "protocol: stimulus_t_on and stimulus_t_off [ms], "
                             "stimulus_amplitude [µA/cm²])")
    stimulus = {key: _number(path, f"stimulus_{key}", metadata[f"stimulus_{key}"])
                for key in STIMULUS_KEYS}
    for key, unit in STIMULUS_KEYS.items():
        trained = protocol[key]
        if trained is not None and abs(stimulus[key] - trained) > 1e-6 * max(1.0, abs(trained)):
            raise RecordingError(f"{path}: stimulus_{key} is {stimulus[key]:g} {unit} in the "
                                 "recording but the posteriors were trained with "
                                 f"{trained:g} {unit}")
    return stimulus


def read_recording(path, protocol: Mapping) -> Recording:
    """Read and check a recording, cropped to the protocol's duration.

    Only the samples the protocol uses (the first ``duration / dt``) are read: HDF5
    datasets are sliced by h5py, a CSV file is parsed up to that row. Memory therefore
    stays at that of the protocol's samples however long the recording is; the checks
    below judge those samples (and, for HDF5, the datasets' shapes).

    Parameters
    ----------
    path : an ``.h5``/``.hdf5`` or ``.csv`` file (format: resources/observations/README.md).
    protocol : what the posteriors were trained on: ``duration``, ``t_on``, ``t_off`` [ms],
        ``amplitude`` [µA/cm²] (None when inferred: not checked), ``dt`` [ms] (the HF
        simulator's sampling interval).

    Raises
    ------
    RecordingError naming the file and the fault.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RecordingError(f"{path}: unknown recording format {path.suffix!r} "
                             f"(expected one of {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise RecordingError(f"{path}: file does not exist")
    needed = int(round(protocol["duration"] / protocol["dt"]))
    arrays, units, metadata = (_read_csv if suffix == ".csv" else _read_hdf5)(path, needed)
    for name, unit in UNITS.items():
        if units[name] != unit:
            raise RecordingError(f"{path}: {name} is in {units[name]!r}, expected {unit!r}")
    dt = _check_samples(path, arrays["time"], arrays["voltage"], protocol["dt"])
    stimulus = _stimulus(path, metadata, protocol)
    if len(arrays["time"]) < needed:
        raise RecordingError(f"{path}: too short: {len(arrays['time']) * dt:g} ms "
                             f"({len(arrays['time'])} samples), the protocol lasts "
                             f"{protocol['duration']:g} ms ({needed} samples)")
    true_theta = {key[len(TRUE_PREFIX):]: _number(path, key, value)
                  for key, value in metadata.items() if key.startswith(TRUE_PREFIX)}
    return Recording(path.stem, arrays["time"][:needed], arrays["voltage"][:needed], dt,
                     stimulus, true_theta or None, path)


def write_recording(path, recording: Recording) -> None:
    """Write ``recording`` as HDF5 or CSV (by the suffix of ``path``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RecordingError(f"{path}: unknown recording format {path.suffix!r}")
    metadata = {f"stimulus_{key}": float(recording.stimulus[key]) for key in STIMULUS_KEYS}
    if suffix == ".csv":
        true = {TRUE_PREFIX + k: float(v) for k, v in (recording.true_theta or {}).items()}
        head = "".join(f"# {key}: {value!r}\n" for key, value in {**metadata, **true}.items())
        rows = "".join(f"{t:.10g},{v:.4f}\n" for t, v in zip(recording.time, recording.voltage))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(head + "time_ms,voltage_mV\n" + rows)
        os.replace(tmp, path)
        return

    def write(handle):
        for name, unit in UNITS.items():
            handle.create_dataset(name, data=np.asarray(getattr(recording, name), dtype=float),
                                  compression="gzip", shuffle=True, track_times=False)
            handle[name].attrs["unit"] = unit
        handle.attrs.update(metadata)
        if recording.true_theta is not None:
            handle.attrs["true_theta"] = json.dumps(
                {k: float(v) for k, v in recording.true_theta.items()})

    atomic_write(path, write)


def true_vector(recording: Recording, names: Sequence[str]) -> np.ndarray | None:
    """(d,) the recording's known parameters in the order ``names``, or None."""
    if recording.true_theta is None:
        return None
    if set(recording.true_theta) != set(names):
        raise RecordingError(f"{recording.path}: true parameters {sorted(recording.true_theta)} "
                             f"are not the inferred ones {list(names)}")
    return np.array([recording.true_theta[name] for name in names], dtype=float)
