"""Names and plain settings of a recording stimulus: the chosen sweeps of an ABF or NWB file.

Plain Python on purpose (no imports of numerics): the planning layer uses it. A config's
``stimulus`` section is either the current step (``duration``, ``t_on``, ``t_off``; the
amplitude a model constant) or a recording's sweeps (``recording``, ``sweeps`` or
``amplitudes_pA``, ``window_ms``). For the latter the workflow reads each chosen sweep's
protocol once, at startup (``mfnpe.recordings.stimulus.resolve``), into
``stimulus["protocols"]``: one plain mapping per sweep,
``{"sweep": index, "duration": ms, "holding": pA, "epochs": [[start ms, duration ms, pA], ...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SWEEP_SEPARATOR = "@"
"""A feature of sweep 5 is named ``spike_count@5`` (:func:`feature_names`)."""
RECORDING_KEYS = ("recording", "sweeps", "amplitudes_pA", "window_ms")
"""The keys of the recording form of the ``stimulus`` section."""


def is_recording(stimulus: Mapping) -> bool:
    """Whether a ``stimulus`` section (config or settings) is a recording's sweeps."""
    return stimulus.get("recording") is not None or "protocols" in stimulus


def feature_names(features: Sequence[str], sweeps: Sequence[int] | None = None) -> list[str]:
    """The column names of x: ``features`` as they are (the step stimulus, ``sweeps`` None),
    or every feature of every sweep, sweep after sweep: ``[f@s for s in sweeps for f in
    features]``. The one source of these names (shards, tables, figures)."""
    if sweeps is None:
        return list(features)
    return [f"{name}{SWEEP_SEPARATOR}{int(sweep)}" for sweep in sweeps for name in features]


def split_name(name: str) -> tuple[str, int | None]:
    """``("spike_count", 5)`` for ``"spike_count@5"``; ``(name, None)`` for a plain name."""
    base, separator, sweep = name.rpartition(SWEEP_SEPARATOR)
    return (base, int(sweep)) if separator and sweep.isdigit() else (name, None)


def sweeps_of(stimulus: Mapping) -> list[int] | None:
    """The sweep indices of a resolved recording stimulus (in order), or None for the step."""
    if not is_recording(stimulus):
        return None
    if "protocols" not in stimulus:
        raise ValueError("the recording stimulus has not been resolved: its sweeps' protocols "
                         "are read from the file at startup (mfnpe.recordings.stimulus.resolve)")
    return [int(protocol["sweep"]) for protocol in stimulus["protocols"]]


def stimulus_names(config: Mapping) -> list[str]:
    """The feature names of the config's x (:func:`feature_names` of its sweeps)."""
    return feature_names(config["features"], sweeps_of(config["stimulus"]))


def simulation_stimulus(stimulus: Mapping) -> dict:
    """What simulations depend on of a config's ``stimulus`` section, as plain data: the
    step's ``duration``, ``t_on``, ``t_off``, or the sweeps' ``protocols``."""
    if not is_recording(stimulus):
        return dict(stimulus)
    sweeps_of(stimulus)  # resolved, or a clear error
    return {"protocols": [dict(protocol, epochs=[list(e) for e in protocol["epochs"]])
                          for protocol in stimulus["protocols"]]}

