"""Reference deterministic HH solution by a tight-tolerance adaptive ODE solver (scipy).

Independent of every simulator in ``mfnpe`` except the rate formulas, so tests can
compare spike times of the JAX, Markov and Langevin models against it. It starts at rest
(the root of its own steady-state current by ``brentq``), as the simulators do.
(``tests/test_oracles.py`` has a reference that shares not even the rates.)
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from mfnpe.hh.kinetics import rates_np, steady_state
from mfnpe.hh.model import DEFAULTS


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

    y = np.array([v_rest, m0, h0, n0])
    out = np.empty_like(t_eval, dtype=float)
    pieces = [(0.0, t_on, 0.0), (t_on, t_off, amplitude), (t_off, max(t_eval[-1], t_off) + 1e-9, 0.0)]
    for start, stop, current in pieces:
        if stop <= start:
            continue
        inside = (t_eval >= start) & (t_eval < stop)
        times = np.append(t_eval[inside], stop)  # the last point carries the state on
        sol = solve_ivp(
            rhs, (start, stop), y, args=(current,), method="LSODA", rtol=1e-10, atol=1e-10,
            t_eval=times,
        )
        out[inside] = sol.y[0, :-1]
        y = sol.y[:, -1]
    return out
