"""A sweep's command current as a :class:`~mfnpe.stimulus.protocols.Protocol`: read from
a sampled waveform (:func:`protocol_from_waveform`), and the one protocol chosen sweeps
share (:func:`common_protocol`). Faults raise :mod:`mfnpe.recordings.errors` naming the
file (docs/recordings.md, "Protocols").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfnpe.recordings.errors import (NotPiecewiseConstantError, ProtocolMismatchError,
                                     RecordingError)
from mfnpe.stimulus.protocols import Protocol, describe, make_protocol

WAVEFORM_TOLERANCE_PA = 0.5
"""Default: samples of one epoch differ by at most this [pA]; a larger jump starts an epoch."""
MIN_EPOCH_SAMPLES = 3
"""A level held for fewer samples is no epoch (a ramp or a sine, not steps)."""
AMPLITUDE_DECIMALS = 3
"""Levels read from a waveform are rounded to 10⁻³ pA (undoes unit-conversion rounding)."""


def protocol_from_waveform(command_pA: np.ndarray, dt: float, source: str = "<waveform>",
                           tolerance_pA: float = WAVEFORM_TOLERANCE_PA) -> Protocol:
    """The piecewise-constant protocol of a command waveform.

    Parameters
    ----------
    command_pA : (T,) command current [pA], sample k at time ``k * dt``.
    dt : sampling interval [ms].
    source : names the file (and sweep) in error messages.
    tolerance_pA : samples of one level differ by at most this; larger jumps start a new one.

    Returns
    -------
    Protocol with ``holding`` the first sample's level, each level the mean of its samples
    (rounded to :data:`AMPLITUDE_DECIMALS` decimals), times on the sample grid.

    Raises
    ------
    NotPiecewiseConstantError when a level drifts by more than ``tolerance_pA`` (a ramp) or
    lasts fewer than :data:`MIN_EPOCH_SAMPLES` samples (a sine, a sampled transition).
    """
    command = np.asarray(command_pA, dtype=np.float64)
    if command.ndim != 1 or command.size == 0:
        raise RecordingError(f"{source}: command waveform of shape {command.shape}, expected (T,)")
    if not np.isfinite(command).all():
        first = int(np.flatnonzero(~np.isfinite(command))[0])
        raise RecordingError(f"{source}: NaN or infinite command current, first at "
                             f"t = {first * dt:g} ms")
    bounds = np.concatenate([[0], np.flatnonzero(np.abs(np.diff(command)) > tolerance_pA) + 1,
                             [command.size]])
    levels = []
    for begin, stop in zip(bounds[:-1], bounds[1:]):
        segment = command[begin:stop]
        if stop - begin < MIN_EPOCH_SAMPLES and command.size >= MIN_EPOCH_SAMPLES:
            raise NotPiecewiseConstantError(
                f"{source}: the command is not piecewise constant: a level of "
                f"{stop - begin} sample(s) at t = {begin * dt:g} ms (a ramp, sine or "
                f"filtered step? epochs last at least {MIN_EPOCH_SAMPLES} samples)")
        if np.ptp(segment) > tolerance_pA:
            raise NotPiecewiseConstantError(
                f"{source}: the command is not piecewise constant: it drifts by "
                f"{np.ptp(segment):.4g} pA between t = {begin * dt:g} and {stop * dt:g} ms "
                f"(more than {tolerance_pA:g} pA; a ramp or a sine?)")
        levels.append((begin * dt, (stop - begin) * dt,
                       round(float(segment.mean()), AMPLITUDE_DECIMALS)))
    return make_protocol(command.size * dt, levels[0][2], levels[1:])


def common_protocol(protocols: Sequence[Protocol], source: str, labels: Sequence | None = None,
                    tolerance_pA: float = 1e-3) -> Protocol:
    """The one protocol all ``protocols`` share (``labels`` name them in the message, e.g.
    the sweep indices); raises :class:`ProtocolMismatchError` naming the first that differs."""
    if not protocols:
        raise RecordingError(f"{source}: no sweeps chosen")
    labels = list(range(len(protocols))) if labels is None else list(labels)
    first = protocols[0]
    for label, protocol in zip(labels[1:], protocols[1:]):
        if not first.matches(protocol, tolerance_pA):
            raise ProtocolMismatchError(
                f"{source}: the chosen sweeps have different protocols: sweep {labels[0]} "
                f"has {describe(first)}, sweep {label} has {describe(protocol)}")
    return first
