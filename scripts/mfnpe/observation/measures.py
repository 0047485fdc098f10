"""What the features of a trace do not tell, measured on the stored traces of the predictive
check's simulations and of the recording (:class:`mfnpe.observation.fit.TraceMeasures`):
spikes before the stimulus, spikes and mean potential in the last quarter of the stimulus
window. Apart from :mod:`mfnpe.observation.fit` because it needs the spike detector (numba),
which only the simulating job has; the figure and the table read the stored measures."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mfnpe.observation.fit import SweepWindows, TraceMeasures
from mfnpe.simulation.features import spike_times

log = logging.getLogger(__name__)


def trace_measures(traces: np.ndarray, dt: float, windows: Sequence[SweepWindows]
                   ) -> TraceMeasures:
    """:class:`TraceMeasures` of ``traces`` (n, T') [mV] sampled every ``dt`` ms: the sweeps
    of ``windows`` joined in time, sweep j ``round(duration_j / dt)`` samples, sample k of
    a sweep at ``k * dt`` in sweep time (the layout of the stored traces). Spikes are
    :func:`mfnpe.simulation.features.spike_times` (peaks above -10 mV)."""
    traces = np.atleast_2d(np.asarray(traces, dtype=np.float32))
    lengths = [int(round(w.duration / dt)) for w in windows]
    if sum(lengths) != traces.shape[1]:
        raise ValueError(f"the sweeps' {lengths} samples every {dt} ms do not add up to the "
                         f"{traces.shape[1]} of the traces")
    n, s = len(traces), len(windows)
    pre = np.zeros((n, s), dtype=np.int64)
    quiet, isi, late_mean = (np.full((n, s), np.nan) for _ in range(3))
    start = 0
    for j, (window, length) in enumerate(zip(windows, lengths)):
        first, stop = (round(t / dt) for t in (window.late_start, window.t_off))
        for i in range(n):
            part = traces[i, start:start + length]
            times = spike_times(part, dt)
            pre[i, j] = int(np.sum(times < window.rest_end))
            inside = times[(times >= window.t_on) & (times < window.t_off)]
            quiet[i, j] = window.t_off - (inside[-1] if len(inside) else window.t_on)
            if len(inside) >= 2:
                isi[i, j] = (inside[-1] - inside[0]) / (len(inside) - 1)
            if stop > first and np.isfinite(part[first:stop]).all():
                late_mean[i, j] = float(np.mean(part[first:stop], dtype=np.float64))
        start += length
    return TraceMeasures(pre, quiet, isi, late_mean,
                         np.array([w.t_off - w.t_on for w in windows], dtype=float))


def recorded_measures(trace: np.ndarray, dt: float, windows: Sequence[SweepWindows],
                      name: str = "recording") -> TraceMeasures | None:
    """:func:`trace_measures` of a recording's ``trace`` (T',), or None (logged) when it does
    not cover the sweeps at ``dt`` (a step recording sampled at a rate ``dt`` is no
    multiple of)."""
    if sum(int(round(w.duration / dt)) for w in windows) != len(trace):
        log.warning("%s: the stored trace (%d samples every %g ms) does not cover the "
                    "stimulus's sweeps: its own block and pre-stimulus state are unknown",
                    name, len(trace), dt)
        return None
    return trace_measures(np.asarray(trace)[None], dt, windows)
