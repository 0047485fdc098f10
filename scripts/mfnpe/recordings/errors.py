"""Every fault of reading a recording: :class:`RecordingError` and its kinds.

Each message starts with the file (and sweep) and names the fault (docs/recordings.md,
"Errors"); the readers (``mfnpe.recordings.ephys``, ``.step``, ``.sweeps``,
``.stimulus``) raise nothing else for a bad file, so one ``except RecordingError`` catches
them all.
"""

from __future__ import annotations


class RecordingError(ValueError):
    """A recording is unreadable or does not fit the protocol; the message names the file."""


class VoltageClampError(RecordingError):
    """The sweep (or file) is a voltage-clamp recording: its command is a voltage."""


class MissingCommandError(RecordingError):
    """No command current can be found for a sweep."""


class UnitError(RecordingError):
    """A unit string that is no known voltage or current unit."""


class SamplingRateError(RecordingError):
    """Sampled below ``mfnpe.recordings.ephys.MIN_RATE_HZ``, or not uniformly."""


class SweepIndexError(RecordingError):
    """A sweep index outside the file's sweeps."""


class NonFiniteSamplesError(RecordingError):
    """NaN or infinite voltage or command samples."""


class NotPiecewiseConstantError(RecordingError):
    """A command current that is no sequence of constant levels (a ramp, a sine, a pulse
    train written as a waveform of too short levels)."""


class AmplitudeNotFoundError(RecordingError):
    """No current-clamp sweep has an epoch at the amplitude asked for; the message lists
    the amplitudes the file has."""


class ProtocolMismatchError(RecordingError):
    """Sweeps asked to share one protocol have different ones."""
