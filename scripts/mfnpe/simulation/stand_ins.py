"""Which feature values stand in for a measurement the trace cannot give.

Every feature is defined for every trace (:mod:`mfnpe.simulation.features`), but a spike
feature of a trace with too few spikes holds a stand-in, not a measurement: a silent
trace's ``first_spike_latency`` and ``isi_mean`` are the stimulus window's length, its
``ap_amplitude`` 0. A summary of such values (a predictive interval, a median) mixes the
stand-in with the measurements and stretches toward it; :func:`stand_ins` marks them so
that a summary can leave them out and report their share instead.

Plain Python and numpy on purpose (no numba): the figure rules, whose env has no numba,
import it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfnpe.stimulus.sweeps import SWEEP_SEPARATOR, split_name

SPIKE_COUNT = "spike_count"
"""The feature whose value (per sweep) decides whether another is a measurement."""

SPIKES_MEASURED: dict[str, int] = {
    "first_spike_latency": 1,
    "isi_mean": 2,
    "first_isi": 2,
    "isi_cv": 3,
    "ap_peak": 1,
    "ap_threshold": 1,
    "ap_amplitude": 1,
    "ap_half_width": 1,
    "ahp_depth": 1,
    "adaptation_index": 4,
}
"""Feature -> the fewest spikes in the stimulus window for its value to be measured;
below that it holds the stand-in of :data:`mfnpe.simulation.features.FEATURES`' definition
(the window length, 0, the window's highest V). The one table (tests/test_features.py
checks it against the features of traces with that many spikes and one fewer)."""


def spikes_measured(name: str) -> int:
    """The fewest spikes ``name`` (``"isi_mean"`` or ``"isi_mean@3"``) needs to be a
    measurement: :data:`SPIKES_MEASURED`, 0 for a feature measured on every trace."""
    return SPIKES_MEASURED.get(split_name(name)[0], 0)


def spike_count_column(name: str, feature_names: Sequence[str]) -> int | None:
    """The column of ``feature_names`` holding the spike count of ``name``'s sweep
    (``spike_count@3`` for ``isi_mean@3``, ``spike_count`` for ``isi_mean``), or None."""
    _, sweep = split_name(name)
    wanted = SPIKE_COUNT if sweep is None else f"{SPIKE_COUNT}{SWEEP_SEPARATOR}{sweep}"
    names = list(feature_names)
    return names.index(wanted) if wanted in names else None


def stand_ins(x: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """(n, f) bool: True where ``x[i, j]`` (features ``x`` (n, f), columns
    ``feature_names``) is a stand-in: its trace has fewer spikes in that sweep's window
    than :func:`spikes_measured`. False where the spike count of that sweep is not among
    the features (then the stand-ins cannot be told apart)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.shape[1] != len(feature_names):
        raise ValueError(f"x has {x.shape[1]} columns, not the {len(feature_names)} of "
                         f"{list(feature_names)}")
    marked = np.zeros(x.shape, dtype=bool)
    for j, name in enumerate(feature_names):
        needed, count = spikes_measured(name), spike_count_column(name, feature_names)
        if needed and count is not None:
            marked[:, j] = x[:, count] < needed
    return marked
