"""A recording as the workflow's stimulus: its chosen sweeps' protocols and samples, read
and checked once at startup.

``resolve`` turns the config's ``stimulus: {recording, sweeps | amplitudes_pA, window_ms}``
into plain per-sweep protocols (``mfnpe.stimulus.sweeps``);
``mfnpe.simulation.experiment.ExperimentSimulation`` turns them back into simulator stimuli.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mfnpe.recordings.ephys import open_ephys
from mfnpe.recordings.errors import NonFiniteSamplesError, RecordingError
from mfnpe.stimulus import protocols as protocol_tools


def resolve(config: Mapping) -> list[dict]:
    """The chosen sweeps' protocols of the config's recording stimulus, cropped to
    ``window_ms`` and in window time, as plain data (``mfnpe.stimulus.protocols.to_settings``).

    Raises
    ------
    RecordingError whose message starts with ``config key stimulus/<key>`` and names the
    file and sweep: a missing or unreadable file, a voltage-clamp sweep, an index out of
    range, no sweep at an amplitude (listing the file's), a command that is missing or
    not piecewise constant, sampling below 10 kHz, a window outside the sweep or holding no epoch, a NaN or
    infinite voltage or command sample inside the window (every chosen sweep's window
    is read, as the observation job reads it).
    """
    section = config["stimulus"]
    path = Path(section["recording"])
    with _opened(path) as ephys:
        if section.get("sweeps") is not None:
            chosen = [(f"stimulus/sweeps/{k}", index) for k, index in enumerate(section["sweeps"])]
        else:
            chosen = []
            for k, amplitude in enumerate(section["amplitudes_pA"]):
                try:
                    found = ephys.find_or_raise(float(amplitude))
                except RecordingError as err:
                    raise type(err)(f"config key stimulus/amplitudes_pA/{k}={amplitude:g}: "
                                    f"{err}") from None
                chosen.append((f"stimulus/amplitudes_pA/{k}", found[0]))
        indices = [index for _, index in chosen]
        for key, index in chosen:
            if indices.count(index) > 1:
                raise RecordingError(f"config key {key}: {path}: sweep {index} is chosen twice")
        settings = []
        for key, index in chosen:
            try:
                protocol = ephys.protocol(index)
            except RecordingError as err:
                raise type(err)(f"config key {key}={index}: {err}") from None
            window = section.get("window_ms")
            try:
                cropped = protocol_tools.crop(protocol, window)
                protocol_tools.feature_windows(cropped)
            except ValueError as err:
                raise RecordingError(f"config key stimulus/window_ms={window}: {path}: sweep "
                                     f"{index}: {err}") from None
            _read_window(ephys, key, index, window)
            settings.append(protocol_tools.to_settings(cropped, index))
    return settings


def _read_window(ephys, key: str, index: int, window) -> None:
    """Read sweep ``index``'s voltage and command over ``window`` [ms] (None: the whole
    sweep) as the observation job will (``mfnpe.recordings.sweeps``), so that a
    NaN or infinite sample there (:class:`NonFiniteSamplesError`), or any other fault of
    the samples, stops the workflow at startup and not in a job."""
    try:
        ephys.read(index, tuple(window) if window is not None else None)
    except NonFiniteSamplesError as err:
        where = f"stimulus/window_ms={window}" if window is not None else "the sweep"
        raise type(err)(f"config key {key}={index}: {err}, inside {where} "
                        "(NonFiniteSamplesError: every sample the workflow observes must be "
                        "a finite number; choose another sweep or a window without them)"
                        ) from None
    except RecordingError as err:
        raise type(err)(f"config key {key}={index}: {err}") from None


def _opened(path: Path):
    if not path.is_file():
        raise RecordingError(f"config key stimulus/recording={str(path)!r}: {path}: file does "
                             f"not exist (a relative path is relative to the working directory "
                             f"{Path.cwd()})")
    try:
        return open_ephys(path)
    except RecordingError as err:
        raise type(err)(f"config key stimulus/recording={str(path)!r}: {err}") from None


def resolve_cells(config: Mapping, cells: Mapping[str, str]) -> dict[str, list[int]]:
    """``{name: sweep indices}`` of every further cell (``stimulus/cells``, as ``{name:
    path}``): the config's sweep choice applied to each file (the same indices, or for
    ``amplitudes_pA`` each file's own sweeps at those currents, so sweep order may differ),
    each sweep's protocol checked against the stimulus's (``config["stimulus"]["protocols"]``,
    from :func:`resolve`).

    Raises
    ------
    RecordingError naming ``stimulus/cells``, the file and the sweep: any fault
    :func:`resolve` names, or a sweep whose protocol is not the stimulus's (listing both).
    """
    reference = [protocol_tools.from_settings(p) for p in config["stimulus"]["protocols"]]
    found = {}
    for name, path in cells.items():
        section = {**config["stimulus"], "recording": path}
        try:
            protocols = resolve({**config, "stimulus": section})
        except RecordingError as err:
            raise type(err)(f"config key stimulus/cells ({name}): {err}") from None
        for k, (own, trained) in enumerate(zip(protocols, reference)):
            own_protocol = protocol_tools.from_settings(own)
            if not own_protocol.matches(trained):
                raise RecordingError(
                    f"config key stimulus/cells ({name}): {path}: sweep {own['sweep']} (the "
                    f"stimulus's sweep {config['stimulus']['protocols'][k]['sweep']} of "
                    f"{config['stimulus']['recording']}): its protocol "
                    f"({protocol_tools.describe(own_protocol)}) is not the stimulus's "
                    f"({protocol_tools.describe(trained)}); every cell of a run shares one "
                    "protocol")
        found[name] = [int(p["sweep"]) for p in protocols]
    return found
