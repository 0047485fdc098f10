"""Summary features of voltage traces, selected by name (docs/method.md, "Features").

Every feature has a defined value for every finite trace: a silent trace has
``spike_count = 0``, ``first_spike_latency`` and ``isi_mean`` equal to the stimulus window
length, ``isi_cv = 0``; a flat window has ``stim_skew = stim_kurtosis = 0``. No NaN by
design; traces that diverged are flagged by :func:`valid_traces` and must be excluded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from mfnpe.hh.stimulus import Stimulus

SPIKE_THRESHOLD_MV = -10.0
"""A spike is a peak above this potential [mV]."""
SPIKE_MERGE_MS = 0.5
"""Peaks closer than this [ms] are one spike (the first one is kept)."""
DIVERGED_MV = 1000.0
"""A trace with |V| above this [mV] (or non-finite) has diverged."""

FEATURES: dict[str, tuple[str, str]] = {
    "spike_count": ("1", "spikes with their peak inside the stimulus window"),
    "rest_mean": ("mV", "mean V before stimulus onset"),
    "rest_std": ("mV", "SD of V before stimulus onset"),
    "stim_mean": ("mV", "mean V in the stimulus window"),
    "stim_var": ("mV²", "variance of V in the stimulus window"),
    "stim_skew": ("1", "skewness of V in the stimulus window"),
    "stim_kurtosis": ("1", "excess kurtosis of V in the stimulus window"),
    "isi_mean": ("ms", "mean interspike interval in the window (window length if < 2 spikes)"),
    "isi_cv": ("1", "SD / mean of the interspike intervals (0 if < 3 spikes)"),
    "first_spike_latency": ("ms", "first spike time after onset (window length if silent)"),
}
"""name -> (unit, description), in the column order of :func:`all_features`."""

NAMES = tuple(FEATURES)


@numba.njit(cache=True, nogil=True)
def _spike_steps(v, threshold, merge_steps, out):
    """Write the sample indices of spike peaks of trace ``v`` (T,) into ``out``; return count."""
    count = 0
    inside = False
    peak_step = 0
    peak_v = -np.inf
    for k in range(v.shape[0]):
        if v[k] > threshold:
            if not inside:
                inside = True
                peak_v = v[k]
                peak_step = k
            elif v[k] > peak_v:
                peak_v = v[k]
                peak_step = k
        elif inside:
            inside = False
            if count == 0 or peak_step - out[count - 1] >= merge_steps:
                out[count] = peak_step
                count += 1
    if inside and (count == 0 or peak_step - out[count - 1] >= merge_steps):
        out[count] = peak_step
        count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _moments(v, start, stop):
    """Mean, variance, skewness and excess kurtosis of ``v[start:stop]`` (two passes, float64)."""
    n = stop - start
    if n <= 0:
        return np.nan, 0.0, 0.0, 0.0
    mean = 0.0
    for k in range(start, stop):
        mean += v[k]
    mean /= n
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for k in range(start, stop):
        d = v[k] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    m2 /= n
    m3 /= n
    m4 /= n
    if m2 < 1e-12:
        return mean, m2, 0.0, 0.0
    return mean, m2, m3 / m2**1.5, m4 / (m2 * m2) - 3.0


@numba.njit(cache=True, nogil=True)
def _features_kernel(v, dt, rest_step, on_step, off_step, threshold, merge_steps, out):
    """Fill ``out`` (n, len(NAMES)) with all features of traces ``v`` (n, T): rest on
    samples ``[0, rest_step)``, the stimulus window on ``[on_step, off_step)``."""
    n, n_t = v.shape
    spikes = np.empty(n_t, dtype=np.int64)
    window_ms = (off_step - on_step) * dt
    for i in range(n):
        trace = v[i]
        n_spikes_all = _spike_steps(trace, threshold, merge_steps, spikes)
        first = -1
        count = 0
        isi_sum = 0.0
        isi_sq = 0.0
        last = -1
        for s in range(n_spikes_all):
            step = spikes[s]
            if step < on_step or step >= off_step:
                continue
            if first < 0:
                first = step
            else:
                isi = (step - last) * dt
                isi_sum += isi
                isi_sq += isi * isi
            last = step
            count += 1
        rest_mean, rest_var, _, _ = _moments(trace, 0, rest_step)
        if rest_step == 0:
            rest_mean = trace[0]
        mean, var, skew, kurt = _moments(trace, on_step, off_step)
        out[i, 0] = count
        out[i, 1] = rest_mean
        out[i, 2] = np.sqrt(rest_var)
        out[i, 3] = mean
        out[i, 4] = var
        out[i, 5] = skew
        out[i, 6] = kurt
        if count >= 2:
            isi_mean = isi_sum / (count - 1)
            isi_var = max(isi_sq / (count - 1) - isi_mean * isi_mean, 0.0)
            out[i, 7] = isi_mean
            out[i, 8] = np.sqrt(isi_var) / isi_mean if count >= 3 else 0.0
        else:
            out[i, 7] = window_ms
            out[i, 8] = 0.0
        out[i, 9] = (first - on_step) * dt if count >= 1 else window_ms


def spike_times(v: np.ndarray, dt: float) -> np.ndarray:
    """Spike peak times [ms] of one trace ``v`` (T,) sampled every ``dt`` [ms] from t = 0."""
    trace = np.ascontiguousarray(v, dtype=np.float32)
    buffer = np.empty(trace.shape[0], dtype=np.int64)
    count = _spike_steps(trace, SPIKE_THRESHOLD_MV, _merge_steps(dt), buffer)
    return buffer[:count] * dt


def _merge_steps(dt: float) -> int:
    return max(int(round(SPIKE_MERGE_MS / dt)), 1)


@dataclass(frozen=True)
class Windows:
    """Where the features of a trace are computed [ms]: rest on ``[0, rest_end)``, the
    stimulus window on ``[t_on, t_off)`` (a recording's protocol:
    ``mfnpe.observation.protocols.feature_windows``)."""

    rest_end: float
    t_on: float
    t_off: float


def all_features(v: np.ndarray, dt: float, stimulus: Stimulus | Windows) -> np.ndarray:
    """(n, len(NAMES)) float64 features of traces ``v`` (n, T) [mV] sampled every ``dt`` [ms],
    in the windows of ``stimulus``: a :class:`Windows`, or the step (rest before ``t_on``)."""
    traces = np.ascontiguousarray(np.atleast_2d(v), dtype=np.float32)
    steps = [min(round(t / dt), traces.shape[1])
             for t in (stimulus.rest_end, stimulus.t_on, stimulus.t_off)]
    out = np.empty((traces.shape[0], len(NAMES)))
    _features_kernel(traces, dt, *steps, SPIKE_THRESHOLD_MV, _merge_steps(dt), out)
    return out


def check_names(names: Sequence[str]) -> list[int]:
    """Column indices of ``names`` in :data:`NAMES`; raises ``ValueError`` naming unknown ones."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; known: {list(NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"features listed twice in {list(names)}")
    return [NAMES.index(name) for name in names]


def compute_features(
    v: np.ndarray, dt: float, stimulus: Stimulus | Windows, names: Sequence[str] = NAMES
) -> np.ndarray:
    """(n, len(names)) float64: the named features of traces ``v`` (n, T)."""
    return all_features(v, dt, stimulus)[:, check_names(names)]


def valid_traces(v: np.ndarray) -> np.ndarray:
    """(n,) bool: True where trace ``v[i]`` (T,) is finite and within ±:data:`DIVERGED_MV`."""
    v = np.atleast_2d(v)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v).all(axis=1) & (np.abs(v) < DIVERGED_MV).all(axis=1)
