"""The single-compartment HH neuron's constants: names, units, defaults.

(docs/method.md, "The neuron".) Every simulator takes its per-simulation constants as a
table ``{name: (n,) float64}`` holding *all* names of :data:`CONSTANTS`;
:func:`constants_table` builds it from the config's fixed values and the inferred
parameters. There is no initial potential: every simulation starts at the resting state
of its own constants (:mod:`mfnpe.hh.rest`; docs/method.md, "The start").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CONSTANTS: dict[str, tuple[float, str, str]] = {
    "gNa": (120.0, "mS/cm²", "maximal Na conductance density"),
    "gK": (36.0, "mS/cm²", "maximal K conductance density"),
    "gL": (0.3, "mS/cm²", "leak conductance density"),
    "ENa": (50.0, "mV", "Na reversal potential"),
    "EK": (-77.0, "mV", "K reversal potential"),
    "EL": (-54.4, "mV", "leak reversal potential"),
    "C": (1.0, "µF/cm²", "membrane capacitance"),
    "area": (100.0, "µm²", "membrane area; sets the channel numbers and so the noise"),
    "amplitude": (10.0, "µA/cm²", "stimulus step amplitude"),
}
"""name -> (default, unit, description). Any of these may be inferred."""

NAMES = tuple(CONSTANTS)
DEFAULTS = {name: value for name, (value, _, _) in CONSTANTS.items()}
UNITS = {name: unit for name, (_, unit, _) in CONSTANTS.items()}


def constants_table(
    fixed: Mapping[str, float], theta: np.ndarray | None = None, names: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Per-simulation constants ``{name: (n,) float64}`` for every name in :data:`NAMES`.

    Parameters
    ----------
    fixed : values overriding :data:`DEFAULTS` for all simulations (the config's ``model``).
    theta : (n, len(names)) inferred parameter values, one row per simulation.
    names : the column names of ``theta``; each must be in :data:`NAMES`.
    """
    unknown = sorted(set(fixed) - set(NAMES)) + sorted(set(names) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown model constant(s) {unknown}; known: {list(NAMES)}")
    theta = np.zeros((1, 0)) if theta is None else np.atleast_2d(np.asarray(theta, dtype=float))
    if theta.shape[1] != len(names):
        raise ValueError(f"theta has {theta.shape[1]} columns but {len(names)} names {list(names)}")
    n = theta.shape[0]
    table = {name: np.full(n, float(fixed.get(name, DEFAULTS[name]))) for name in NAMES}
    for column, name in enumerate(names):
        table[name] = theta[:, column].copy()
    return table
