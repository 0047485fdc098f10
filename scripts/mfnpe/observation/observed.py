"""A recording's x and trace as the simulations have them: its features in the windows the
posteriors were trained on, and its voltage on the stored traces' time grid.

Takes either kind of recording (``mfnpe.recordings.step.Recording`` under the current
step, ``mfnpe.recordings.sweeps.SweepRecording`` under a recording's sweeps), so the rule
scripts serve both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mfnpe.recordings.step import Recording
from mfnpe.recordings.sweeps import SweepRecording
from mfnpe.simulation.features import compute_features
from mfnpe.stimulus import protocols as protocol_tools
from mfnpe.stimulus.step import Stimulus


def recording_features(recording: Recording, feature_names: Sequence[str],
                       stimulus: Mapping) -> np.ndarray:
    """(f,) float64: the named features of the recording under the protocol ``stimulus``
    (``duration``, ``t_on``, ``t_off`` [ms]), as the simulators' traces get them."""
    protocol = Stimulus(**{key: stimulus[key] for key in ("duration", "t_on", "t_off")})
    return compute_features(recording.voltage[None], recording.dt, protocol, feature_names)[0]


def sweep_features(recording: SweepRecording, features: Sequence[str],
                   protocols: Sequence[Mapping]) -> np.ndarray:
    """(S·f,) float64: the ``features`` of every sweep in its own windows
    (``mfnpe.stimulus.protocols.feature_windows``) at its own rate, sweep after sweep
    (the columns ``mfnpe.stimulus.sweeps.feature_names``)."""
    blocks = []
    for voltage, dt, plain in zip(recording.voltages, recording.dts, protocols, strict=True):
        windows = protocol_tools.feature_windows(protocol_tools.from_settings(plain))
        blocks.append(compute_features(voltage[None], dt, windows, features)[0])
    return np.concatenate(blocks) if blocks else np.zeros(0)


def observed_features(recording: Recording | SweepRecording, features: Sequence[str],
                      protocol: Mapping) -> np.ndarray:
    """The recording's x: (f,) for the step, (S·f,) for sweeps."""
    if isinstance(recording, SweepRecording):
        return sweep_features(recording, features, protocol["protocols"])
    return recording_features(recording, features, protocol)


def observed_trace(recording: Recording | SweepRecording, trace_dt: float) -> np.ndarray:
    """The recording's voltage [mV] every ``trace_dt`` ms as the simulations' stored traces
    have it: sample k at ``k * trace_dt``; the sweeps' joined in time (each interpolated
    from its own rate onto the grid when that rate does not divide ``trace_dt``)."""
    if isinstance(recording, Recording):
        stride = max(round(trace_dt / recording.dt), 1)
        return recording.voltage[::stride]
    parts = []
    for voltage, dt in zip(recording.voltages, recording.dts):
        n = round(len(voltage) * dt / trace_dt)
        parts.append(np.interp(np.arange(n) * trace_dt, np.arange(len(voltage)) * dt, voltage))
    return np.concatenate(parts)
