"""Reference solvers and helpers shared by the tests: HH-type ODEs solved by a
tight-tolerance adaptive ODE solver (scipy), and spike times read from the solutions.

- :func:`piecewise_trace` integrates any right-hand side over a current step piece by
  piece (the solver never steps across a jump of the input current);
  :func:`step_spike_times` reads the peak times of its solution on a fine grid
  (:func:`peak_times`). The independent references of ``tests/test_oracles.py`` (HH 1952's
  own rates), ``tests/test_models.py`` (Pospischil et al. 2008) and
  ``tests/test_temperature.py`` (rates scaled by temperature) are solved with them.
- :func:`assert_features_match_efel` checks ``mfnpe``'s features of traces against eFEL
  5's (``tests/test_oracles.py``, ``tests/test_models.py``).
- :data:`PAPER`, :func:`paper_rates` and :func:`paper_inf`: the Pospischil et al. 2008
  models as the paper writes them (``tests/test_models.py``, ``tests/test_temperature.py``);
  :data:`SIMULATORS`, the six simulators under test with their steps.
- :func:`reference_trace` is the classic deterministic HH model with ``mfnpe``'s rate
  formulas (nothing else of the library), for the spike times of the JAX, Markov and
  Langevin simulators (:func:`reference_spike_times`). It starts at rest (the root of its
  own steady-state current by ``brentq``), as the simulators do.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from mfnpe.hh import langevin, markov
from mfnpe.hh.kinetics import rates_np, steady_state
from mfnpe.hh.model import DEFAULTS
from mfnpe.stimulus.step import Stimulus
from mfnpe.simulation.features import compute_features, spike_times

Pieces = list[tuple[float, float, float]]
"""(start [ms], stop [ms], input current [µA/cm²]) of each constant-current piece."""


def step_pieces(t_on: float, t_off: float, end: float, amplitude: float) -> Pieces:
    """The pieces of a current step of ``amplitude`` on [t_on, t_off), from 0 to ``end``."""
    return [(0.0, t_on, 0.0), (t_on, t_off, amplitude), (t_off, end, 0.0)]


def piecewise_trace(rhs, y0, pieces: Pieces, t_eval: np.ndarray, rtol: float = 1e-10,
                    atol: float = 1e-12) -> np.ndarray:
    """V(t) at ``t_eval`` [ms] (the first state variable) of the ODE ``rhs(t, y, current)``
    from ``y0``, solved by LSODA piece by piece: each piece starts from the state the
    previous one ended in, so the solver never steps across a jump of the current."""
    y = y0
    out = np.full(len(t_eval), np.nan)
    for start, stop, current in pieces:
        if stop <= start:
            continue
        inside = (t_eval >= start) & (t_eval < stop)
        times = np.append(t_eval[inside], stop)  # the last point carries the state on
        sol = solve_ivp(rhs, (start, stop), y, args=(current,), method="LSODA", rtol=rtol,
                        atol=atol, t_eval=times)
        out[inside] = sol.y[0, :-1]
        y = sol.y[:, -1]
    assert not np.isnan(out).any(), "t_eval reaches beyond the pieces"
    return out


def peak_times(v: np.ndarray, dt: float) -> np.ndarray:
    """Peak times [ms] of a trace sampled every ``dt`` (maxima above −10 mV), each refined
    by the parabola through its 3 samples."""
    k = np.flatnonzero((v[1:-1] > v[:-2]) & (v[1:-1] >= v[2:]) & (v[1:-1] > -10.0)) + 1
    left, mid, right = v[k - 1], v[k], v[k + 1]
    return (k + 0.5 * (left - right) / (left - 2 * mid + right)) * dt


def step_spike_times(rhs, y0, stimulus: Stimulus, amplitude: float,
                     grid_ms: float = 0.001) -> np.ndarray:
    """Spike peak times [ms] of the ODE ``rhs(t, y, current)`` started at ``y0`` under the
    step ``stimulus`` of ``amplitude``: LSODA at rtol 1e-10, atol 1e-12, piecewise
    (:func:`piecewise_trace`), V read on a ``grid_ms`` grid from the solver's dense
    output, peaks refined by parabolas (:func:`peak_times`)."""
    t = np.arange(round(stimulus.duration / grid_ms)) * grid_ms
    pieces = step_pieces(stimulus.t_on, stimulus.t_off, stimulus.duration, amplitude)
    return peak_times(piecewise_trace(rhs, y0, pieces, t), grid_ms)


def reference_rest(**constants: float) -> float:
    """Resting potential [mV]: the root of the steady-state ionic current (defaults overridden
    by ``constants``), by brentq on [−90, −40] mV (one root there over the default prior)."""
    c = {**DEFAULTS, **constants}

    def steady_current(v):
        m, h, n = steady_state(v)
        return float(c["gNa"] * m**3 * h * (v - c["ENa"]) + c["gK"] * n**4 * (v - c["EK"])
                     + c["gL"] * (v - c["EL"]))

    return brentq(steady_current, -90.0, -40.0, xtol=1e-12)


def reference_trace(
    t_eval: np.ndarray,
    amplitude: float = 10.0,
    t_on: float = 10.0,
    t_off: float = 110.0,
    **constants: float,
) -> np.ndarray:
    """V(t) [mV] at ``t_eval`` [ms] of the deterministic HH ODE (rtol 1e-10, atol 1e-10),
    started at rest.

    The step is integrated piecewise (before, during, after the step) so the solver never
    steps across a discontinuity of the input current.
    """
    c = {**DEFAULTS, **constants, "amplitude": amplitude}
    v_rest = reference_rest(**constants)
    m0, h0, n0 = steady_state(v_rest)

    def rhs(t, y, current):
        v, m, h, n = y
        i_ion = (
            c["gNa"] * m**3 * h * (v - c["ENa"])
            + c["gK"] * n**4 * (v - c["EK"])
            + c["gL"] * (v - c["EL"])
        )
        return [
            (current - i_ion) / c["C"],
            rates_np.alpha_m(v) * (1 - m) - rates_np.beta_m(v) * m,
            rates_np.alpha_h(v) * (1 - h) - rates_np.beta_h(v) * h,
            rates_np.alpha_n(v) * (1 - n) - rates_np.beta_n(v) * n,
        ]

    pieces = step_pieces(t_on, t_off, max(t_eval[-1], t_off) + 1e-9, amplitude)
    return piecewise_trace(rhs, np.array([v_rest, m0, h0, n0]), pieces, t_eval, atol=1e-10)


def reference_spike_times(stimulus: Stimulus, dt: float, amplitude: float = 10.0,
                          **constants: float) -> np.ndarray:
    """Spike times [ms] (``mfnpe``'s spike detector) of :func:`reference_trace` sampled
    every ``dt`` under ``stimulus``."""
    t = np.arange(stimulus.n_steps(dt)) * dt
    return spike_times(reference_trace(t, amplitude, stimulus.t_on, stimulus.t_off,
                                       **constants), dt)


# ----------------------------------------------------------------------------- eFEL

EFEL_SETTINGS = {
    "Threshold": -10.0,  # mV; eFEL's default is −20, ours −10 (SPIKE_THRESHOLD_MV)
    "strict_stiminterval": True,  # only spikes in the stimulus (default: the whole trace)
    "voltage_base_start_perc": 0.0,  # default 0.9: the base is the last 10% before onset
}
"""eFEL settings that define eFEL's features as ours. Per trace also: ``interp_step`` =
``dt`` (default 0.1 ms: eFEL resamples the trace) and ``voltage_base_end_perc`` just
below 1 (eFEL's window ends at ``t_on`` inclusive, ours before the sample at ``t_on``)."""


def efel_features(v: np.ndarray, dt: float, stimulus: Stimulus) -> dict:
    """eFEL's spike_count, all_ISI_values, time_to_first_spike and voltage_base of one
    trace ``v`` sampled every ``dt`` under ``stimulus`` (``EFEL_SETTINGS``)."""
    import efel

    efel.reset()
    end_perc = (stimulus.t_on - 0.5 * dt) / stimulus.t_on
    for name, value in {**EFEL_SETTINGS, "interp_step": dt,
                        "voltage_base_end_perc": end_perc}.items():
        efel.set_setting(name, value)
    t = np.arange(v.shape[0]) * dt
    trace = {"T": t, "V": v, "stim_start": [stimulus.t_on], "stim_end": [stimulus.t_off]}
    names = ["spike_count", "all_ISI_values", "time_to_first_spike", "voltage_base"]
    result = efel.get_feature_values([trace], names, raise_warnings=False)[0]
    efel.reset()
    return result


def assert_features_match_efel(v: np.ndarray, dt: float, stimulus: Stimulus) -> list[int]:
    """Assert that ``mfnpe``'s spike_count equals eFEL's, rest_mean its voltage_base
    within 1e-4 mV, first_spike_latency its time_to_first_spike and isi_mean, isi_cv
    (population SD) those of its ISIs within 1e-6 ms, for every trace of ``v`` (n, T);
    returns eFEL's spike counts."""
    ours = compute_features(v, dt, stimulus, ["spike_count", "rest_mean", "isi_mean", "isi_cv",
                                              "first_spike_latency"])
    counts = []
    for (spike_count, rest_mean, isi_mean, isi_cv, latency), trace in zip(ours, v):
        theirs = efel_features(trace, dt, stimulus)
        count = int(theirs["spike_count"][0])
        counts.append(count)
        assert spike_count == count
        assert rest_mean == pytest.approx(theirs["voltage_base"][0], abs=1e-4)
        if count >= 1:
            assert latency == pytest.approx(theirs["time_to_first_spike"][0], abs=1e-6)
        if count >= 2:
            isis = theirs["all_ISI_values"]
            assert isi_mean == pytest.approx(isis.mean(), abs=1e-6)
            assert isi_cv == pytest.approx(isis.std() / isis.mean() if count >= 3 else 0.0,
                                           abs=1e-6)
    return counts


# ----------------------------------------------------------- Pospischil et al. 2008, by hand

PAPER = {  # Pospischil et al. 2008: gNa, gKd, gM, gL [mS/cm²], EL, VT [mV], tau_max [ms]
    "pospischil_rs": (56.0, 6.0, 0.075, 0.0205, -70.3, -56.2, 608.0),
    "pospischil_fs": (58.0, 3.9, 0.0787, 0.038, -70.4, -57.9, 502.0),
}


def paper_rates(v, vt, tau_max):
    """(αm, βm, αh, βh, αn, βn, αp, βp) [1/ms] at ``v`` [mV], as the paper writes them."""
    u = v - vt
    a_m = -0.32 * (u - 13.0) / (np.exp(-(u - 13.0) / 4.0) - 1.0)
    b_m = 0.28 * (u - 40.0) / (np.exp((u - 40.0) / 5.0) - 1.0)
    a_h = 0.128 * np.exp(-(u - 17.0) / 18.0)
    b_h = 4.0 / (1.0 + np.exp(-(u - 40.0) / 5.0))
    a_n = -0.032 * (u - 15.0) / (np.exp(-(u - 15.0) / 5.0) - 1.0)
    b_n = 0.5 * np.exp(-(u - 10.0) / 40.0)
    p_inf = 1.0 / (1.0 + np.exp(-(v + 35.0) / 10.0))
    tau_p = tau_max / (3.3 * np.exp((v + 35.0) / 20.0) + np.exp(-(v + 35.0) / 20.0))
    return a_m, b_m, a_h, b_h, a_n, b_n, p_inf / tau_p, (1.0 - p_inf) / tau_p


def paper_inf(v, c):
    """[m∞, h∞, n∞, p∞] at ``v`` [mV] of the model ``c`` (a row of :data:`PAPER`)."""
    r = paper_rates(v, c[5], c[6])
    return [r[2 * i] / (r[2 * i] + r[2 * i + 1]) for i in range(4)]  # m, h, n, p


SIMULATORS = {
    "markov": (markov.simulate_markov, 0.01, {}),
    "binomial": (markov.simulate_binomial, 0.01, {}),
    "deterministic": (langevin.simulate_deterministic, 0.025, {}),
    "current_noise": (langevin.simulate_current_noise, 0.025, {"sigma": 0.5}),
    "subunit_langevin": (langevin.simulate_subunit_langevin, 0.025, {}),
    "edge_langevin": (langevin.simulate_edge_langevin, 0.025, {}),
}
"""The six simulators under test: name -> (function, step [ms], keyword arguments)."""
