"""Summary features of voltage traces, selected by name (docs/method.md, "Features").

Every feature has a defined value for every finite trace: a silent trace has
``spike_count = 0``, ``first_spike_latency``, ``isi_mean`` and ``first_isi`` equal to the
stimulus window length, ``isi_cv = 0``, ``ap_peak = ap_threshold`` = the window's highest
V, ``ap_amplitude = ap_half_width = ahp_depth = adaptation_index = 0``; a flat window has
``stim_skew = stim_kurtosis = 0``; the passive features are 0 without a hyperpolarising
epoch (:class:`PassiveEpoch`), ``membrane_tau = sag_ratio = 0`` when V does not fall below
the baseline in it. No NaN by design; traces that diverged are flagged by
:func:`valid_traces` and must be excluded. Which values are such stand-ins, by spike count,
is :mod:`mfnpe.simulation.stand_ins`.

The first ten features (:data:`GONCALVES`) come from one numba kernel, the electrophysiology
ones (:data:`EPHYS`) from another that reimplements eFEL 5.7's spike-shape definitions on
the same samples and ``mfnpe.observation.passive``'s pulse measures
(tests/test_ephys_features.py compares them with eFEL and the passive card);
:func:`compute_features` runs only the kernels its names need.
"""

from __future__ import annotations

from collections.abc import Sequence
import numba
import numpy as np

from mfnpe.stimulus.step import Stimulus
from mfnpe.stimulus.windows import Windows
from mfnpe.simulation.feature_sets import FEATURE_SETS, resolve_features

SPIKE_THRESHOLD_MV = -10.0
"""A spike is a peak above this potential [mV]."""
SPIKE_MERGE_MS = 0.5
"""Peaks closer than this [ms] are one spike (the first one is kept)."""
DIVERGED_MV = 1000.0
"""A trace with |V| above this [mV] (or non-finite) has diverged."""

GONCALVES: dict[str, tuple[str, str]] = {
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
"""The default ten (set ``goncalves``): columns of :func:`_features_kernel`."""
EPHYS: dict[str, tuple[str, str]] = {
    "ap_peak": ("mV", ("mean peak V of the window's spikes (eFEL peak_voltage; silent: the "
                       "window's highest V)")),
    "ap_threshold": ("mV", ("mean V where each spike's dV/dt rises through 10 mV/ms and stays "
                            "above for 3 samples (eFEL AP_begin_voltage; silent: the window's "
                            "highest V)")),
    "ap_amplitude": ("mV", ("mean peak minus threshold V per spike (eFEL AP_amplitude; "
                            "silent: 0)")),
    "ap_half_width": ("ms", ("mean width at half the amplitude from threshold (eFEL "
                             "AP_duration_half_width; silent: 0)")),
    "ahp_depth": ("mV", ("ap_threshold minus the mean after-hyperpolarisation trough, the "
                         "lowest V between spikes and from the last to the window's end (eFEL "
                         "AP_begin_voltage − min_between_peaks_values; silent: 0)")),
    "adaptation_index": ("1", ("mean of (ISI_i+1 − ISI_i) / (ISI_i+1 + ISI_i) after skipping "
                               "the first 10 % of the spikes, at most 2 (eFEL "
                               "adaptation_index; 0 with < 4 spikes left)")),
    "first_isi": ("ms", ("first interspike interval in the window (eFEL all_ISI_values[0]; "
                         "window length if < 2 spikes)")),
    "input_resistance": ("MΩ", ("(steady state − baseline) / ΔI of the hyperpolarising epoch, "
                                "as the passive card (0 without one)")),
    "membrane_tau": ("ms", ("τ of a + b·exp(−t/τ) fitted from where the deflection reaches "
                            "10 % of its peak to the peak, as the passive card (0 without "
                            "one)")),
    "sag_ratio": ("1", ("(steady state − peak) / (baseline − peak) of the hyperpolarising "
                        "epoch, the peak on V smoothed over 1 ms, as the passive card (0 "
                        "without one)")),
}
"""The electrophysiology features: columns of :func:`_ephys_kernel`. Spikes are those of
``spike_count``; spike shape follows eFEL 5.7's algorithms on the samples as they are
(docs/method.md, "Features")."""
FEATURES: dict[str, tuple[str, str]] = {**GONCALVES, **EPHYS}
"""name -> (unit, description), in the column order of :func:`all_features`: the one table
(``mfnpe.simulation.feature_sets.FEATURE_SETS`` names sets of it)."""

NAMES = tuple(FEATURES)
N_GONCALVES = len(GONCALVES)

DERIVATIVE_THRESHOLD = 10.0
"""A spike begins where dV/dt [mV/ms] rises above this for :data:`DERIVATIVE_WINDOW`
samples (eFEL's ``DerivativeThreshold`` default)."""
DOWN_DERIVATIVE_THRESHOLD = -12.0
"""A spike ends where dV/dt [mV/ms] rises back above this after its steepest fall (eFEL's
``DownDerivativeThreshold`` default)."""
DERIVATIVE_WINDOW = 3
"""Samples dV/dt must stay above :data:`DERIVATIVE_THRESHOLD` (eFEL's ``DerivativeWindow``)."""
ADAPTATION_SKIP = 0.1
"""adaptation_index skips the first round(ADAPTATION_SKIP · n) spikes (eFEL ``spike_skipf``)..."""
ADAPTATION_MAX_SKIP = 2
"""... but at most this many (eFEL ``max_spike_skip``)."""
ADAPTATION_MIN_SPIKES = 4
"""adaptation_index needs this many spikes after the skip (eFEL's minimum), else it is 0."""
PASSIVE_STEADY_FRACTION = 0.2
"""The steady state is the mean V over the last 20 % of the epoch
(``mfnpe.observation.passive.STEADY_FRACTION``)."""
PASSIVE_SMOOTH_MS = 1.0
"""The sag's peak is the lowest V smoothed by a centred moving average of this width [ms]
(``mfnpe.observation.passive.SMOOTH_MS``)."""
PASSIVE_FIT_START = 0.1
"""membrane_tau's fit starts where the smoothed deflection first reaches this fraction of
its peak (``mfnpe.observation.passive.FIT_START_FRACTION``)..."""
PASSIVE_MIN_FIT_SAMPLES = 10
"""... and needs this many samples to the peak, else membrane_tau is 0
(``mfnpe.observation.passive.MIN_FIT_SAMPLES``)."""
TAU_GRID = 40
"""τ values tried, log-spaced from dt to 10 × the fit window, before the golden-section
refinement (``mfnpe.observation.passive`` tries 200, then refines)."""


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
    """Fill ``out[:, :10]`` with the :data:`GONCALVES` features of traces ``v`` (n, T): rest
    on samples ``[0, rest_step)``, the stimulus window on ``[on_step, off_step)``."""
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


@numba.njit(cache=True, nogil=True)
def _dvdt(v, k, dt):
    """dV/dt [mV/ms] of ``v`` at sample ``k``: central differences, one-sided at the ends
    (eFEL's ``getCentralDifferenceDerivative``)."""
    last = v.shape[0] - 1
    if k <= 0:
        return (np.float64(v[1]) - np.float64(v[0])) / dt
    if k >= last:
        return (np.float64(v[last]) - np.float64(v[last - 1])) / dt
    return ((np.float64(v[k + 1]) - np.float64(v[k - 1])) / 2.0) / dt


@numba.njit(cache=True, nogil=True)
def _argmin(v, start, stop):
    """Index of the (first) minimum of ``v[start:stop]`` (``stop > start``)."""
    best = start
    low = v[start]
    for k in range(start + 1, stop):
        if v[k] < low:
            low = v[k]
            best = k
    return best


@numba.njit(cache=True, nogil=True)
def _first_local_min(v, start, stop):
    """eFEL's ``first_min_element`` of ``v[start:stop]`` (``stop > start``): the lowest
    value so far once two later samples are not below it, else the minimum (eFEL's
    ``min_AHP_indices``, where a spike's search for its beginning stops)."""
    lowest = start
    lowest_min = start
    counter = 0
    for k in range(start + 1, stop):
        if v[k] < v[lowest]:
            lowest = k
        if v[k] >= v[lowest_min]:
            counter += 1
        else:
            counter = 0
            lowest_min = k
        if counter == 2:
            return lowest_min
    return lowest


@numba.njit(cache=True, nogil=True)
def _closest(v, start, stop, level):
    """Index of the first sample of ``v[start:stop]`` closest to ``level``; ``stop`` when
    the range is empty (as ``std::min_element`` of an empty range)."""
    best = stop
    gap = np.inf
    for k in range(start, stop):
        d = abs(np.float64(v[k]) - level)
        if d < gap:
            gap = d
            best = k
    return best


@numba.njit(cache=True, nogil=True)
def _spike_begin(v, dt, low, peak):
    """eFEL's ``AP_begin_indices`` of the spike peaking at ``peak`` after the minimum
    ``low``: the last sample before the peak where dV/dt is at most
    :data:`DERIVATIVE_THRESHOLD`, plus one, such that dV/dt stays at or above it for
    :data:`DERIVATIVE_WINDOW` samples; -1 when there is none after ``low``."""
    window = DERIVATIVE_WINDOW
    newbegin = peak
    while True:
        j = newbegin - 1
        while j >= low and _dvdt(v, j, dt) > DERIVATIVE_THRESHOLD:
            j -= 1
        if j < low:
            return -1
        begin = min(j + 1, v.shape[0] - window)
        if begin == low:
            return -1
        steady = True
        for k in range(begin, begin + window):
            if _dvdt(v, k, dt) < DERIVATIVE_THRESHOLD:
                steady = False
                break
        if steady:
            return begin
        newbegin = begin - 1


@numba.njit(cache=True, nogil=True)
def _spike_end(v, dt, peak, stop):
    """eFEL's ``AP_end_indices``: after the steepest fall between ``peak + 1`` and
    ``stop`` (the next peak, or the last sample), the first sample where dV/dt is back at
    or above :data:`DOWN_DERIVATIVE_THRESHOLD`; -1 when there is none."""
    start = peak + 1
    if start >= stop or stop >= v.shape[0]:
        return -1
    steepest = start
    slope = _dvdt(v, start, dt)
    for k in range(start + 1, stop):
        d = _dvdt(v, k, dt)
        if d < slope:
            slope = d
            steepest = k
    for k in range(steepest, stop):
        if _dvdt(v, k, dt) >= DOWN_DERIVATIVE_THRESHOLD:
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _exponential_sse(y, log_tau, dt, syy):
    """Residual sum of squares of the least-squares ``y ≈ a + b·exp(−k·dt/τ)`` over the
    samples k of ``y`` (centred: mean 0, sum of squares ``syy``) at τ = exp(``log_tau``)."""
    n = y.shape[0]
    step = dt / np.exp(log_tau)
    r = np.exp(-step)
    sx = np.expm1(-n * step) / np.expm1(-step)  # Σ r^k
    sxx = np.expm1(-2.0 * n * step) / np.expm1(-2.0 * step)  # Σ r^2k
    # Σ y_k r^k by Horner in 4 interleaved lanes (k = 4m + j: Σ_j r^j Σ_m y_4m+j r^4m), so
    # that the multiply-adds of one lane need not wait for another's
    r4 = r * r * r * r
    a0 = a1 = a2 = a3 = 0.0
    top = (n // 4) * 4
    for k in range(top - 4, -1, -4):
        a0 = a0 * r4 + y[k]
        a1 = a1 * r4 + y[k + 1]
        a2 = a2 * r4 + y[k + 2]
        a3 = a3 * r4 + y[k + 3]
    sxy = a0 + r * (a1 + r * (a2 + r * a3))
    tail = 0.0
    for k in range(n - 1, top - 1, -1):
        tail = tail * r + y[k]
    sxy += tail * np.exp(-top * step)
    spread = sxx - sx * sx / n
    if spread <= 0.0:
        return syy
    return syy - sxy * sxy / spread


@numba.njit(cache=True, nogil=True)
def _fit_tau(y, dt):
    """τ [ms] of the least-squares ``y ≈ a + b·exp(−t/τ)`` on samples every ``dt`` (``y``
    centred): the best of :data:`TAU_GRID` log-spaced τ from ``dt`` to 10 × the window,
    refined by golden section between its neighbours to 1e-6 in log τ (as
    ``mfnpe.observation.passive.fit_exponential``; at either end of the grid, that end)."""
    n = y.shape[0]
    syy = 0.0
    for k in range(n):
        syy += y[k] * y[k]
    lo = np.log(dt)
    hi = np.log(10.0 * max((n - 1) * dt, dt))
    spacing = (hi - lo) / (TAU_GRID - 1)
    best = 0
    best_sse = np.inf
    for g in range(TAU_GRID):
        sse = _exponential_sse(y, lo + g * spacing, dt, syy)
        if sse < best_sse:
            best_sse = sse
            best = g
    if best == 0 or best == TAU_GRID - 1:
        return np.exp(lo + best * spacing)
    a = lo + (best - 1) * spacing
    b = lo + (best + 1) * spacing
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c = b - ratio * (b - a)
    d = a + ratio * (b - a)
    fc = _exponential_sse(y, c, dt, syy)
    fd = _exponential_sse(y, d, dt, syy)
    while b - a > 1e-6:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _exponential_sse(y, c, dt, syy)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _exponential_sse(y, d, dt, syy)
    found = (a + b) / 2.0
    if _exponential_sse(y, found, dt, syy) > best_sse:
        found = lo + best * spacing
    return np.exp(found)


@numba.njit(cache=True, nogil=True)
def _passive(trace, dt, p_base, p_start, p_end, current_nA, smooth_width, smooth, fit):
    """``(input_resistance, membrane_tau, sag_ratio)`` of the epoch ``[p_start, p_end)`` of
    ``trace`` with its baseline on ``[p_base, p_start)`` (``mfnpe.observation.passive.
    measure_pulse``'s definitions; defined, 0, where it cannot measure). ``smooth`` and
    ``fit``: float64 work buffers of at least ``p_end - p_start`` samples."""
    base = 0.0
    for k in range(p_base, p_start):
        base += trace[k]
    base /= p_start - p_base
    length = p_end - p_start
    steady_from = (1.0 - PASSIVE_STEADY_FRACTION) * length * dt - 1e-9
    first = max(int(np.floor(steady_from / dt)) - 1, 0)
    while first < length and first * dt < steady_from:
        first += 1
    steady = 0.0
    for k in range(p_start + first, p_end):
        steady += trace[k]
    steady = steady / (length - first) if length > first else base
    # V smoothed by a centred moving average whose edges average what is there
    # (passive._smooth over the epoch), its first minimum the peak deflection
    lo_half = smooth_width // 2
    hi_half = (smooth_width - 1) // 2
    total = 0.0
    for k in range(min(hi_half, length)):
        total += trace[p_start + k]
    k_peak = 0
    for k in range(length):
        if k + hi_half < length:
            total += trace[p_start + k + hi_half]
        if k - lo_half - 1 >= 0:
            total -= trace[p_start + k - lo_half - 1]
        smooth[k] = total / (min(k + hi_half, length - 1) - max(k - lo_half, 0) + 1)
        if smooth[k] < smooth[k_peak]:
            k_peak = k
    peak = smooth[k_peak]
    deflection = steady - base
    resistance = deflection / current_nA if current_nA != 0.0 else 0.0
    if not (base > peak and steady < base):
        return resistance, 0.0, 0.0
    sag = (steady - peak) / (base - peak)
    # the fit: from where the smoothed deflection first reaches 10 % of the peak's (and
    # half a smoothing window after the onset) to the peak
    k_start = k_peak
    for k in range(k_peak + 1):
        if base - smooth[k] >= PASSIVE_FIT_START * (base - peak):
            k_start = k
            break
    k_start = max(k_start, round(0.5 * PASSIVE_SMOOTH_MS / dt))
    n_fit = k_peak + 1 - k_start
    if n_fit < PASSIVE_MIN_FIT_SAMPLES:
        return resistance, 0.0, sag
    mean = 0.0
    for k in range(n_fit):
        mean += trace[p_start + k_start + k]
    mean /= n_fit
    for k in range(n_fit):
        fit[k] = trace[p_start + k_start + k] - mean
    return resistance, _fit_tau(fit[:n_fit], dt), sag


@numba.njit(cache=True, nogil=True)
def _ephys_kernel(v, dt, on_step, off_step, p_base, p_start, p_end, current_nA, smooth_width,
                  threshold, merge_steps, out):
    """Fill ``out`` (n, len(EPHYS)) with the :data:`EPHYS` features of traces ``v`` (n, T):
    spikes in ``[on_step, off_step)`` (those of ``spike_count``), the passive epoch on
    ``[p_start, p_end)`` with its baseline on ``[p_base, p_start)`` (none if
    ``p_end <= p_start`` or ``p_start <= p_base``) and ΔI ``current_nA`` (0: unknown)."""
    n, n_t = v.shape
    spikes = np.empty(n_t, dtype=np.int64)
    peaks = np.empty(n_t, dtype=np.int64)
    smooth = np.empty(max(p_end - p_start, 0))
    fit = np.empty(max(p_end - p_start, 0))
    window_ms = (off_step - on_step) * dt
    # eFEL starts the first spike's search for its beginning 2 samples before onset
    first_low = max(on_step - 2, 0) if on_step != 1 else 0
    for i in range(n):
        trace = v[i]
        n_all = _spike_steps(trace, threshold, merge_steps, spikes)
        count = 0
        for s in range(n_all):
            if on_step <= spikes[s] < off_step:
                peaks[count] = spikes[s]
                count += 1
        if count == 0:
            top = -np.inf
            for k in range(on_step, off_step):
                top = max(top, np.float64(trace[k]))
            if off_step <= on_step:
                top = np.float64(trace[min(on_step, n_t - 1)])
            out[i, 0] = top
            out[i, 1] = top
            out[i, 2] = 0.0
            out[i, 3] = 0.0
            out[i, 4] = 0.0
            out[i, 5] = 0.0
            out[i, 6] = window_ms
        else:
            peak_sum = 0.0
            begin_sum = 0.0
            amplitude_sum = 0.0
            width_sum = 0.0
            trough_sum = 0.0
            n_begin = 0
            n_width = 0
            low = first_low
            for s in range(count):
                p = peaks[s]
                v_peak = np.float64(trace[p])
                peak_sum += v_peak
                following = peaks[s + 1] if s + 1 < count else off_step
                trough_sum += np.float64(trace[_argmin(trace, p, following)])
                b = _spike_begin(trace, dt, low, p)
                if b >= 0:
                    v_begin = np.float64(trace[b])
                    begin_sum += v_begin
                    amplitude_sum += v_peak - v_begin
                    n_begin += 1
                    e = _spike_end(trace, dt, p, peaks[s + 1] if s + 1 < count else n_t - 1)
                    if e >= p:
                        half = (v_peak + v_begin) / 2.0
                        rise = _closest(trace, b, p, half)
                        fall = _closest(trace, p, e, half)
                        width_sum += (fall - rise) * dt
                        n_width += 1
                low = _first_local_min(trace, p, following)  # the next spike's search stops here
            out[i, 0] = peak_sum / count
            if n_begin > 0:
                out[i, 1] = begin_sum / n_begin
                out[i, 2] = amplitude_sum / n_begin
                out[i, 3] = width_sum / n_width if n_width > 0 else 0.0
                out[i, 4] = out[i, 1] - trough_sum / count
            else:
                out[i, 1] = out[i, 0]
                out[i, 2] = 0.0
                out[i, 3] = 0.0
                out[i, 4] = 0.0
            skip = min(int(count * ADAPTATION_SKIP + 0.5), ADAPTATION_MAX_SKIP)
            if count - skip >= ADAPTATION_MIN_SPIKES:
                total = 0.0
                for s in range(skip + 1, count - 1):
                    before = (peaks[s] - peaks[s - 1]) * dt
                    after = (peaks[s + 1] - peaks[s]) * dt
                    total += (after - before) / (after + before)
                out[i, 5] = total / (count - skip - 2)
            else:
                out[i, 5] = 0.0
            out[i, 6] = (peaks[1] - peaks[0]) * dt if count >= 2 else window_ms
        if p_end > p_start > p_base:
            out[i, 7], out[i, 8], out[i, 9] = _passive(trace, dt, p_base, p_start, p_end,
                                                       current_nA, smooth_width, smooth, fit)
        else:
            out[i, 7] = out[i, 8] = out[i, 9] = 0.0


def spike_times(v: np.ndarray, dt: float) -> np.ndarray:
    """Spike peak times [ms] of one trace ``v`` (T,) sampled every ``dt`` [ms] from t = 0."""
    trace = np.ascontiguousarray(v, dtype=np.float32)
    buffer = np.empty(trace.shape[0], dtype=np.int64)
    count = _spike_steps(trace, SPIKE_THRESHOLD_MV, _merge_steps(dt), buffer)
    return buffer[:count] * dt


def _merge_steps(dt: float) -> int:
    return max(int(round(SPIKE_MERGE_MS / dt)), 1)


def _steps(t: float, dt: float, n_t: int) -> int:
    return min(round(t / dt), n_t)


def _goncalves(traces: np.ndarray, dt: float, stimulus: Stimulus | Windows) -> np.ndarray:
    """(n, 10): the columns of :data:`GONCALVES`."""
    steps = [_steps(t, dt, traces.shape[1])
             for t in (stimulus.rest_end, stimulus.t_on, stimulus.t_off)]
    out = np.empty((traces.shape[0], N_GONCALVES))
    _features_kernel(traces, dt, *steps, SPIKE_THRESHOLD_MV, _merge_steps(dt), out)
    return out


def _ephys(traces: np.ndarray, dt: float, stimulus: Stimulus | Windows) -> np.ndarray:
    """(n, len(EPHYS)): the columns of :data:`EPHYS`."""
    n_t = traces.shape[1]
    on, off = _steps(stimulus.t_on, dt, n_t), _steps(stimulus.t_off, dt, n_t)
    passive = getattr(stimulus, "passive", None)
    if passive is None:
        p_base = p_start = p_end = 0
        current_nA = 0.0
    else:
        p_base, p_start, p_end = (_steps(t, dt, n_t) for t in
                                  (passive.baseline_start, passive.start, passive.end))
        current_nA = 0.0 if passive.current_pA is None else passive.current_pA / 1000.0
    out = np.empty((traces.shape[0], len(EPHYS)))
    _ephys_kernel(traces, dt, on, off, p_base, p_start, p_end, current_nA,
                  max(round(PASSIVE_SMOOTH_MS / dt), 1), SPIKE_THRESHOLD_MV,
                  _merge_steps(dt), out)
    return out


def _as_traces(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(v), dtype=np.float32)


def all_features(v: np.ndarray, dt: float, stimulus: Stimulus | Windows) -> np.ndarray:
    """(n, len(NAMES)) float64 features of traces ``v`` (n, T) [mV] sampled every ``dt`` [ms],
    in the windows of ``stimulus``: a :class:`Windows`, or the step (rest before ``t_on``,
    no passive epoch). Runs every kernel; :func:`compute_features` runs those it needs."""
    traces = _as_traces(v)
    return np.concatenate([_goncalves(traces, dt, stimulus), _ephys(traces, dt, stimulus)],
                          axis=1)


def check_names(names: str | Sequence[str]) -> list[int]:
    """Column indices of ``names`` (a list, or a set name of
    ``mfnpe.simulation.feature_sets.FEATURE_SETS``) in :data:`NAMES`; raises ``ValueError``
    naming unknown ones."""
    names = resolve_features(names)
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; known: {list(NAMES)} "
                         f"(or a set: {list(FEATURE_SETS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"features listed twice in {list(names)}")
    return [NAMES.index(name) for name in names]


def compute_features(
    v: np.ndarray, dt: float, stimulus: Stimulus | Windows, names: str | Sequence[str] = NAMES
) -> np.ndarray:
    """(n, len(names)) float64: the named features of traces ``v`` (n, T) (``names`` a list
    or a set name), equal to :func:`all_features`' columns; only the kernels they need run."""
    columns = check_names(names)
    traces = _as_traces(v)
    parts = []
    if any(j < N_GONCALVES for j in columns):
        parts.append(_goncalves(traces, dt, stimulus))
    else:
        parts.append(np.zeros((traces.shape[0], N_GONCALVES)))
    if any(j >= N_GONCALVES for j in columns):
        parts.append(_ephys(traces, dt, stimulus))
    else:
        parts.append(np.zeros((traces.shape[0], len(EPHYS))))
    return np.concatenate(parts, axis=1)[:, columns]


def valid_traces(v: np.ndarray) -> np.ndarray:
    """(n,) bool: True where trace ``v[i]`` (T,) is finite and within ±:data:`DIVERGED_MV`."""
    v = np.atleast_2d(v)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v).all(axis=1) & (np.abs(v) < DIVERGED_MV).all(axis=1)
