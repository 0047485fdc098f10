"""Markov channel schemes in JAX: state fractions, their exact drift and edge noise.

The ``edge_langevin`` model is the Orio & Soudry (2012) Langevin approximation of the 8 Na /
5 K Markov chains: it tracks the state fractions ``x`` (:data:`mfnpe.hh.kinetics.NA_STATES`,
``K_STATES``) with the master-equation drift plus one noise source per *reversible pair*
``i ⇌ j`` (10 Na + 4 K = 14 normals per step) that moves
``√(max(0, k_ij x_i + k_ji x_j) dt / N) ξ_ij`` from ``x_i`` to ``x_j``. (Pu & Thomas 2020
instead draw one noise per *directed* edge, 28 normals: the two noises of a pair act along
the same state change, so their sum has the same law; "edge" in the name is the graph's.)

A step is split (Strang, :func:`edge_step`): exact master-equation drift over ``dt/2``
(:func:`markov_drift`, which equals the deterministic gate update on binomial fractions),
the noise kick, drift over ``dt/2``. Euler–Maruyama instead shifts spike times by ~0.7 ms
over 120 ms at dt 0.025 (large area) and inflates the Na open-fraction variance by ~30% at
−65 mV; this scheme keeps both within ~2%. After each step negative fractions are set to 0
and the fractions renormalised to sum to 1 (:func:`to_simplex`); this biases the mean up
where the expected number of channels in a state is of order one or less: the Na open
fraction at rest by +30% at 100 µm² (docs/method.md, "Where edge_langevin fails";
:func:`mfnpe.hh.regimes.channel_count_warnings` warns of such configs).

Open fractions ``f_Na = x_m3h1``, ``f_K = x_n4``; initial fractions the binomial
stationary distribution (:func:`states_steady`, not drawn).
"""

from __future__ import annotations

from math import comb
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mfnpe.hh.gates import Rates, clip_fraction, gate_rates, gate_relax, gates_steady, noise_sd
from mfnpe.hh.kinetics import K_OPEN, K_TRANSITIONS, NA_OPEN, NA_TRANSITIONS
from mfnpe.hh.membrane import Membrane


class Scheme(NamedTuple):
    """The reversible pairs ``i ⇌ j`` (i < j) of a channel's Markov scheme, P pairs.

    The forward rate of pair p is ``mult_fwd[p] · rates[rate_fwd[p]]`` (i → j), the backward
    one ``mult_bwd[p] · rates[rate_bwd[p]]`` (j → i); ``stoich`` (states, P) is −1 at
    ``(i, p)`` and +1 at ``(j, p)``.
    """

    source: np.ndarray  # (P,) int, state i
    target: np.ndarray  # (P,) int, state j
    rate_fwd: np.ndarray  # (P,) int, rate id of i -> j
    mult_fwd: np.ndarray  # (P, 1) float32
    rate_bwd: np.ndarray  # (P,) int, rate id of j -> i
    mult_bwd: np.ndarray  # (P, 1) float32
    stoich: np.ndarray  # (states, P) float32


def _scheme(transitions: np.ndarray) -> Scheme:
    """Pair up the directed transitions (from, to, rate_id, multiplier) of a scheme."""
    lookup = {(int(a), int(b)): (int(r), int(k)) for a, b, r, k in transitions}
    rows = [(i, j, *fwd, *lookup[(j, i)]) for (i, j), fwd in lookup.items() if i < j]
    i, j, rate_fwd, mult_fwd, rate_bwd, mult_bwd = np.array(rows).T
    stoich = np.zeros((int(transitions[:, :2].max()) + 1, len(rows)), dtype=np.float32)
    stoich[i, np.arange(len(rows))] = -1.0
    stoich[j, np.arange(len(rows))] = 1.0
    column = lambda a: a.astype(np.float32)[:, None]  # noqa: E731
    return Scheme(i, j, rate_fwd, column(mult_fwd), rate_bwd, column(mult_bwd), stoich)


NA_SCHEME = _scheme(NA_TRANSITIONS)
"""The 10 reversible pairs of the 8-state Na scheme."""
K_SCHEME = _scheme(K_TRANSITIONS)
"""The 4 reversible pairs of the 5-state K scheme."""
N_EDGE_NOISE = len(NA_SCHEME.source) + len(K_SCHEME.source)
"""Normals per step of :func:`edge_step`: 10 Na then 4 K pairs."""


class States(NamedTuple):
    """Markov state fractions, ``na`` (8, n) and ``k`` (5, n), each column summing to 1."""

    na: jax.Array
    k: jax.Array


def _binomial(p, n_gates: int):
    """(n_gates + 1, n): probabilities of 0..n_gates open gates, each open w.p. ``p`` (n,)."""
    k = n_gates
    return jnp.stack([comb(k, i) * p**i * (1.0 - p) ** (k - i) for i in range(k + 1)])


def states_steady(v: jax.Array) -> States:
    """Stationary state fractions at ``v`` (n,) [mV] (order ``NA_STATES``, ``K_STATES``)."""
    m, h, n = gates_steady(v)
    m_states = _binomial(m, 3)
    na = jnp.concatenate([m_states * (1.0 - h), m_states * h])  # index 4 j + i
    return States(na, _binomial(n, 4))


def to_simplex(x: jax.Array) -> jax.Array:
    """State fractions ``x`` (states, n) clipped to [0, 1] and renormalised per column."""
    clipped = clip_fraction(x)
    # a dot, not .sum(axis=0): XLA:CPU orders a reduction by the array shape, so a
    # simulation's rounding would depend on the batch size (tests/test_langevin.py checks)
    total = jnp.ones((1, x.shape[0]), x.dtype) @ clipped  # (1, n)
    return clipped / total


def _times_linear(poly: list, c0, c1) -> list:
    """Coefficients (lowest degree first) of ``poly(z) · (c0 + c1 z)``."""
    middle = [poly[d] * c0 + poly[d - 1] * c1 for d in range(1, len(poly))]
    return [poly[0] * c0, *middle, poly[-1] * c1]


def propagate_gates(x: list[jax.Array], alpha, beta, dt) -> list[jax.Array]:
    """Exact master-equation step at fixed V for channels of ``k = len(x) − 1`` like gates.

    ``x[i]`` (n,) is the fraction with ``i`` gates open; ``alpha, beta`` (n,) [1/ms]. Over
    ``dt`` [ms] an open gate stays open w.p. ``p_oo`` and a closed one opens w.p. ``p_co``
    (the exponential-Euler gate update), independently, so ``x'_j`` is the ``z^j``
    coefficient of ``Σ_i x_i A(z)^i B(z)^(k−i)`` with ``A = p_oc + p_oo z``,
    ``B = p_cc + p_co z``, evaluated by Horner's rule in ``i``.
    """
    k = len(x) - 1
    p_oo = gate_relax(1.0, alpha, beta, dt)[0]  # open -> open
    p_co = gate_relax(0.0, alpha, beta, dt)[0]  # closed -> open
    closed_powers = [[1.0]]  # coefficients of B^m, m = 0..k
    for _ in range(k):
        closed_powers.append(_times_linear(closed_powers[-1], 1.0 - p_co, p_co))
    poly = [x[k]]  # Horner: poly <- poly · A + x_i B^(k−i)
    for i in range(k - 1, -1, -1):
        poly = _times_linear(poly, 1.0 - p_oo, p_oo)
        poly = [p + x[i] * b for p, b in zip(poly, closed_powers[k - i], strict=True)]
    return poly


def markov_drift(states: States, r: Rates, dt) -> States:
    """Master equations over ``dt`` at fixed V, solved exactly: ``x ← P(V, dt)ᵀ x``.

    Na: the 3 m-gates move within each h state, then the h-gate within each m count (state
    index ``4 j + i`` for ``m{i}h{j}``). On binomial (product-form) fractions this is exactly
    the deterministic model's exponential Euler gate update.
    """
    na = states.na.reshape(2, 4, -1)  # (h state j, m count i, n)
    by_m = list(jnp.moveaxis(na, 1, 0))  # 4 x (2, n): both h states at once
    na = jnp.stack(propagate_gates(by_m, r.alpha_m, r.beta_m, dt), axis=1)
    na = jnp.stack(propagate_gates(list(na), r.alpha_h, r.beta_h, dt))  # 2 x (4, n)
    k = jnp.stack(propagate_gates(list(states.k), r.alpha_n, r.beta_n, dt))
    return States(na.reshape(8, -1), k)


def edge_noise(x, scheme: Scheme, rates: jax.Array, inv_n, noise, dt):
    """(states, n) Langevin increment of fractions ``x`` (states, n): one noise per pair.

    Pair ``i ⇌ j`` moves ``√(max(0, k_ij x_i + k_ji x_j) dt / N) ξ`` from ``x_i`` to ``x_j``;
    ``rates`` (6, n) [1/ms], ``inv_n`` (n,) = 1/N, ``noise`` (P, n) standard normals.
    """
    flux_fwd = scheme.mult_fwd * rates[scheme.rate_fwd] * x[scheme.source]  # (P, n), 1/ms
    flux_bwd = scheme.mult_bwd * rates[scheme.rate_bwd] * x[scheme.target]  # (P, n), 1/ms
    moved = noise_sd(flux_fwd + flux_bwd, inv_n, dt) * noise  # (P, n)
    return jnp.asarray(scheme.stoich) @ moved  # per-column order fixed, as in to_simplex


def edge_step(states: States, v, noise, mem: Membrane, dt) -> States:
    """Orio & Soudry (2012) Langevin update (one noise per reversible pair) at ``v`` (n,)
    [mV] over ``dt`` [ms].

    ``noise`` (14, n): 10 Na then 4 K pairs.
    """
    r = gate_rates(v)
    rates = jnp.stack(r)  # (6, n), 1/ms
    n_na = len(NA_SCHEME.source)
    half = markov_drift(states, r, 0.5 * dt)
    kicked = States(
        half.na + edge_noise(half.na, NA_SCHEME, rates, mem.inv_n_na, noise[:n_na], dt),
        half.k + edge_noise(half.k, K_SCHEME, rates, mem.inv_n_k, noise[n_na:], dt),
    )
    drift = markov_drift(kicked, r, 0.5 * dt)
    return States(to_simplex(drift.na), to_simplex(drift.k))


def states_open(states: States):
    """Open fractions ``(x_m3h1, x_n4)``, each (n,)."""
    return states.na[NA_OPEN], states.k[K_OPEN]
