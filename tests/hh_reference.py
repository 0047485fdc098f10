"""Reference solvers and helpers shared by the tests: HH-type ODEs solved by a
tight-tolerance adaptive ODE solver (scipy), and spike times read from the solutions.

- :func:`piecewise_trace` integrates any right-hand side over a current step piece by
  piece (the solver never steps across a jump of the input current);
  :func:`step_spike_times` reads the peak times of its solution on a fine grid
  (:func:`peak_times`). The independent references of ``tests/test_oracles.py`` (HH 1952's
  own rates), ``tests/test_models.py`` (Pospischil et al. 2008) and
  ``tests/test_temperature.py`` (rates scaled by temperature) are solved with them.
- :func:`reference_trace` is the classic deterministic HH model with ``mfnpe``'s rate
  formulas (nothing else of the library), for the spike times of the JAX, Markov and
  Langevin simulators (:func:`reference_spike_times`). It starts at rest (the root of its
  own steady-state current by ``brentq``), as the simulators do.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from mfnpe.hh.kinetics import rates_np, steady_state
from mfnpe.hh.model import DEFAULTS
from mfnpe.hh.stimulus import Stimulus
from mfnpe.simulation.features import spike_times

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
