"""The resting state every simulation starts from (docs/method.md, "The start").

The resting potential of a parameter set is a root of the total steady-state ionic current
at zero stimulus,

    I_ss(V) = gNa m∞(V)³ h∞(V) (V − ENa) + gK n∞(V)⁴ (V − EK) + gL (V − EL),

found per simulation, vectorised: ``I_ss`` on a grid over the reversal potentials' range
(where every root lies: ``I_ss < 0`` below all of them, ``> 0`` above), then bisection in
the first cell where it crosses zero upwards. Several roots (an N-shaped I–V curve): the
most hyperpolarised one, stable to voltage perturbations with the gates at steady state
(whether the full dynamics are stable there is the neuron's own business: an unstable
rest fires spontaneously, as it should). No root (all conductances zero): ``EL``. Roots
closer together than one grid cell (0.5 mV at the default reversal potentials) are not
told apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mfnpe.hh.kinetics import steady_state

GRID_POINTS = 256
"""Grid points over the reversal potentials' range (± 1 mV) searched for a sign change."""
BISECTIONS = 40
"""Bisection halvings of the bracketing cell (0.5 mV at the defaults): to 5e-13 mV."""


def steady_current(v, gNa, gK, gL, ENa, EK, EL):
    """Total steady-state ionic current ``I_ss(V)`` [µA/cm²]; all arguments broadcast."""
    m, h, n = steady_state(v)
    return gNa * m**3 * h * (v - ENa) + gK * n**4 * (v - EK) + gL * (v - EL)


def resting_potential(constants: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n,) float64 resting potential [mV] of each simulation of the table ``constants``.

    ``constants`` holds at least ``gNa, gK, gL`` [mS/cm²] and ``ENa, EK, EL`` [mV], each
    (n,). NaN where a constant is NaN. See the module docstring for the root chosen.
    """
    c = {name: np.asarray(constants[name], dtype=np.float64)[:, None]
         for name in ("gNa", "gK", "gL", "ENa", "EK", "EL")}
    args = tuple(c.values())
    low = np.minimum(np.minimum(c["ENa"], c["EK"]), c["EL"]) - 1.0  # (n, 1) mV
    high = np.maximum(np.maximum(c["ENa"], c["EK"]), c["EL"]) + 1.0
    grid = low + (high - low) * np.linspace(0.0, 1.0, GRID_POINTS)  # (n, G)
    with np.errstate(invalid="ignore", over="ignore"):
        current = steady_current(grid, *args)
        upward = (current[:, :-1] <= 0.0) & (current[:, 1:] > 0.0)  # (n, G - 1)
    found = upward.any(axis=1)
    cell = np.argmax(upward, axis=1)  # first upward crossing (0 where none)
    rows = np.arange(grid.shape[0])
    a, b = grid[rows, cell], grid[rows, cell + 1]
    flat = {name: value[:, 0] for name, value in c.items()}
    for _ in range(BISECTIONS):
        middle = 0.5 * (a + b)
        with np.errstate(invalid="ignore", over="ignore"):
            above = steady_current(middle, *flat.values()) > 0.0
        a, b = np.where(above, a, middle), np.where(above, middle, b)
    rest = np.where(found, 0.5 * (a + b), flat["EL"])
    finite = np.all([np.isfinite(value) for value in flat.values()], axis=0)
    return np.where(finite, rest, np.nan)
