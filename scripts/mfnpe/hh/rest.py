"""The resting state every simulation starts from (docs/method.md, "The start").

The resting potential of a parameter set is a root of the total steady-state ionic current
minus the current held before the simulation starts (zero for the step; a recording's
holding current, ``stimulus.holding_current``),

    I_ss(V) − I_hold = 0,   I_ss(V) = Σ_channels g Π x∞(V)^power (V − E) + gL (V − EL)

(classic model: ``gNa m∞³ h∞ (V − ENa) + gK n∞⁴ (V − EK) + gL (V − EL)``; any model of
:mod:`mfnpe.hh.models`, the table's ``"model"``),

found per simulation, vectorised: ``I_ss`` on a grid over the reversal potentials' range
widened by ``|I_hold| / gL`` (where every root lies: below all of them ``I_ss − I_hold <
0``, above ``> 0``), then bisection in
the first cell where it crosses zero upwards. Several roots (an N-shaped I–V curve): the
most hyperpolarised one, stable to voltage perturbations with the gates at steady state
(whether the full dynamics are stable there is the neuron's own business: an unstable
rest fires spontaneously, as it should). No root (all conductances zero): ``EL``. Roots
closer together than one grid cell (0.5 mV at the default reversal potentials) are not
told apart.

Temperature: the model's ``temperature`` multiplies both rates of a gate by the same Q10
factor (:meth:`mfnpe.hh.channels.NeuronModel.rate_factors`), so ``x∞ = α/(α + β)``,
``I_ss`` and the resting potential do not depend on it (the reversal potentials are
constants of their own: no Nernst temperature dependence is modelled).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.models import model_of

GRID_POINTS = 256
"""Grid points over the reversal potentials' range (± 1 mV) searched for a sign change."""
BISECTIONS = 40
"""Bisection halvings of the bracketing cell (0.5 mV at the defaults): to 5e-13 mV."""


def steady_current(v, c: Mapping[str, np.ndarray], model: NeuronModel):
    """Total steady-state ionic current ``I_ss(V)`` [µA/cm²] of ``model``; ``v`` and the
    constants ``c`` (conductances, reversals, kinetic constants) broadcast."""
    gates = model.steady_gates(v, tuple(c[name] for name in model.kinetic))
    total = None
    for channel in model.channels:
        term = c[channel.conductance]
        for gate, power in channel.gates:
            term = term * gates[gate] ** power
        term = term * (v - c[channel.reversal])
        total = term if total is None else total + term
    return total + c["gL"] * (v - c["EL"])


def resting_potential(constants: Mapping[str, np.ndarray], holding=None) -> np.ndarray:
    """(n,) float64 resting potential [mV] of each simulation of the table ``constants``.

    ``constants`` holds at least the model's conductances [mS/cm²], reversal potentials
    [mV] and kinetic constants, each (n,); ``holding`` (n,) [µA/cm²] the current held at
    the start (None: zero). NaN where a constant is NaN. See the module docstring for the
    root chosen.
    """
    model = model_of(constants)
    reversals = tuple(dict.fromkeys([c.reversal for c in model.channels] + ["EL"]))
    used = tuple(dict.fromkeys([c.conductance for c in model.channels] + ["gL"]
                               + list(reversals) + list(model.kinetic)))
    c = {name: np.asarray(constants[name], dtype=np.float64)[:, None] for name in used}
    low = high = c[reversals[0]]
    for name in reversals[1:]:
        low, high = np.minimum(low, c[name]), np.maximum(high, c[name])
    low, high = low - 1.0, high + 1.0  # (n, 1) mV
    n = low.shape[0]
    held = np.zeros((n, 1)) if holding is None else (  # (n, 1) µA/cm²
        np.asarray(holding, dtype=np.float64).reshape(n, 1))
    # I_ss ≥ gL (V − EL) above every reversal: the root moves by at most |I_hold| / gL
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.minimum(np.abs(held) / c["gL"], 500.0)  # mV; 500 where gL = 0
    low, high = np.where(held < 0, low - reach, low), np.where(held > 0, high + reach, high)
    grid = low + (high - low) * np.linspace(0.0, 1.0, GRID_POINTS)  # (n, G)
    with np.errstate(invalid="ignore", over="ignore"):
        current = steady_current(grid, c, model) - held
        upward = (current[:, :-1] <= 0.0) & (current[:, 1:] > 0.0)  # (n, G - 1)
    found = upward.any(axis=1)
    cell = np.argmax(upward, axis=1)  # first upward crossing (0 where none)
    rows = np.arange(grid.shape[0])
    a, b = grid[rows, cell], grid[rows, cell + 1]
    flat = {name: value[:, 0] for name, value in c.items()}
    for _ in range(BISECTIONS):
        middle = 0.5 * (a + b)
        with np.errstate(invalid="ignore", over="ignore"):
            above = steady_current(middle, flat, model) - held[:, 0] > 0.0
        a, b = np.where(above, a, middle), np.where(above, middle, b)
    rest = np.where(found, 0.5 * (a + b), flat["EL"])
    finite = np.all([np.isfinite(value) for value in (*flat.values(), held[:, 0])], axis=0)
    return np.where(finite, rest, np.nan)
