"""Reading recordings, and every error of that (depends only on :mod:`mfnpe.io` and
:mod:`mfnpe.stimulus`).

- ``errors``: :class:`~mfnpe.recordings.errors.RecordingError` and its kinds;
- ``ephys``: current-clamp sweeps of ABF and NWB files (pyabf, pynwb);
- ``commands``: a command waveform as a protocol, the protocol chosen sweeps share;
- ``step``: our own HDF5/CSV recordings under the current step (read, check, write);
- ``sweeps``: a cell's chosen sweeps under a recording stimulus, and
  :func:`~mfnpe.recordings.sweeps.read_observed` for either kind;
- ``stimulus``: the config's recording stimulus read into plain protocols at startup.

A recording's features are computed in :mod:`mfnpe.observation.observed`.
``python -m mfnpe.recordings FILE...`` shows what a file holds (the command is
``mfnpe.observation.inspect``'s: it needs the passive card; ``__main__`` only starts it).
"""
