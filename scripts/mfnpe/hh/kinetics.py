"""The classic Hodgkin–Huxley model's kinetics and Markov channel schemes.

Voltages are in mV, rates in 1/ms. The rate formulas are written once, over an array
namespace ``xp`` (``numpy`` or ``jax.numpy``), in :mod:`mfnpe.hh.models.classic`
(:func:`make_rates`, re-exported here), and compiled for numba with ``jit=numba.njit``;
so the exact, Langevin and deterministic simulators share one definition of the
physics. Every model's schemes are built the same way from its channels
(:meth:`mfnpe.hh.channels.NeuronModel.transitions`); the tables here are the classic
model's, kept for its tests.

Channel schemes (docs/method.md, "Fidelities"):

- Na: 8 states ``m{i}h{j}`` (i = 0..3 activated m-gates, j = 0/1 h-gate), open = ``m3h1``;
  20 directed transitions.
- K: 5 states ``n{i}`` (i = 0..4 activated n-gates), open = ``n4``; 8 directed transitions.
"""

from __future__ import annotations

from math import comb

import numpy as np

from mfnpe.hh.channels import SINGLE_CHANNEL_PS
from mfnpe.hh.models.classic import RATE_NAMES, make_rates

__all__ = ["RATE_NAMES", "SINGLE_CHANNEL_PS", "make_rates"]  # re-exported

NA_STATES = tuple(f"m{i}h{j}" for j in (0, 1) for i in range(4))
K_STATES = tuple(f"n{i}" for i in range(5))
NA_OPEN = NA_STATES.index("m3h1")
K_OPEN = K_STATES.index("n4")


def _na_index(i: int, j: int) -> int:
    return j * 4 + i


def _build_na_transitions() -> np.ndarray:
    """Rows (from_state, to_state, rate_id, multiplier) of the 8-state Na scheme."""
    rows = []
    for j in (0, 1):
        for i in range(3):  # m-gate opening / closing, at h = j
            rows.append((_na_index(i, j), _na_index(i + 1, j), 0, 3 - i))
            rows.append((_na_index(i + 1, j), _na_index(i, j), 1, i + 1))
    for i in range(4):  # h-gate de-inactivation / inactivation, at m = i
        rows.append((_na_index(i, 0), _na_index(i, 1), 2, 1))
        rows.append((_na_index(i, 1), _na_index(i, 0), 3, 1))
    return np.array(rows, dtype=np.int64)


def _build_k_transitions() -> np.ndarray:
    """Rows (from_state, to_state, rate_id, multiplier) of the 5-state K scheme."""
    rows = []
    for i in range(4):
        rows.append((i, i + 1, 4, 4 - i))
        rows.append((i + 1, i, 5, i + 1))
    return np.array(rows, dtype=np.int64)


NA_TRANSITIONS = _build_na_transitions()
"""(20, 4) int64: from_state, to_state, rate_id, multiplier; rate = multiplier * rates[rate_id]."""
K_TRANSITIONS = _build_k_transitions()
"""(8, 4) int64: from_state, to_state, rate_id, multiplier (state indices within K_STATES)."""


rates_np = make_rates(np)
"""NumPy rate functions (reference implementation used by tests and set-up code)."""


def rate_vector(v) -> np.ndarray:
    """All six rates at ``v``: shape ``(6,) + shape(v)``, order :data:`RATE_NAMES`."""
    return np.stack([getattr(rates_np, name)(np.asarray(v, dtype=float)) for name in RATE_NAMES])


def steady_state(v):
    """Gate steady states ``(m_inf, h_inf, n_inf)`` at voltage ``v`` [mV]."""
    am, bm, ah, bh, an, bn = rate_vector(v)
    return am / (am + bm), ah / (ah + bh), an / (an + bn)


def na_state_probs(v: float) -> np.ndarray:
    """(8,) stationary probabilities of the Na states at a clamped ``v`` [mV]."""
    m, h, _ = steady_state(v)
    probs = np.empty(len(NA_STATES))
    for j, pj in ((0, 1.0 - h), (1, h)):
        for i in range(4):
            probs[_na_index(i, j)] = comb(3, i) * m**i * (1.0 - m) ** (3 - i) * pj
    return probs


def k_state_probs(v: float) -> np.ndarray:
    """(5,) stationary probabilities of the K states at a clamped ``v`` [mV]."""
    _, _, n = steady_state(v)
    return np.array([comb(4, i) * n**i * (1.0 - n) ** (4 - i) for i in range(5)])


def channel_counts(gNa, gK, area):
    """Channel numbers ``(N_Na, N_K)`` for densities ``gNa, gK`` [mS/cm²] on ``area`` [µm²].

    N = ḡ · A / γ with γ = 20 pS: 1 mS/cm² = 10 pS/µm², so N = round(ḡ / 2 · A).
    At the defaults (120, 36 mS/cm², 100 µm²) that is 6000 Na and 1800 K channels.
    """
    per_um2 = 10.0 / SINGLE_CHANNEL_PS  # channels per µm² per (mS/cm²)
    n_na = np.rint(np.asarray(gNa, dtype=float) * per_um2 * np.asarray(area, dtype=float))
    n_k = np.rint(np.asarray(gK, dtype=float) * per_um2 * np.asarray(area, dtype=float))
    return n_na.astype(np.int64), n_k.astype(np.int64)
