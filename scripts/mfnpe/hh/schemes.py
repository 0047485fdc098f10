"""Markov channel schemes in JAX: state fractions, their exact drift and edge noise.

The ``edge_langevin`` model is the Orio & Soudry (2012) Langevin approximation of the
channels' Markov chains (classic: 8 Na / 5 K states): it tracks the state fractions ``x``
of each channel (states of :class:`mfnpe.hh.channels.Channel`, classic
:data:`mfnpe.hh.kinetics.NA_STATES`, ``K_STATES``) with the master-equation drift plus one
noise source per *reversible pair* ``i ⇌ j`` (classic 10 Na + 4 K = 14 normals per step;
Pospischil 10 Na + 4 Kd + 1 M = 15) that moves
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
:func:`mfnpe.simulation.regimes.channel_count_warnings` warns of such configs).

Open fractions the all-gates-open states (classic ``f_Na = x_m3h1``, ``f_K = x_n4``);
initial fractions the binomial stationary distribution (:func:`states_steady`, not drawn).
The state is a tuple of (states, n) arrays, one per channel of the model.
"""

from __future__ import annotations

from functools import cache
from math import comb
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.gates import clip_fraction, gate_rates, gate_relax, gates_steady, noise_sd
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


@cache
def schemes(model: NeuronModel) -> tuple[Scheme, ...]:
    """The reversible pairs of each channel of ``model`` (classic: 10 Na, 4 K)."""
    return tuple(_scheme(model.transitions(channel)) for channel in model.channels)


def n_edge_noise(model: NeuronModel) -> int:
    """Normals per step of :func:`edge_step`: the pairs of every channel, in order."""
    return sum(len(scheme.source) for scheme in schemes(model))


def _binomial(p, n_gates: int) -> list:
    """n_gates + 1 arrays (n,): probabilities of 0..n_gates open gates, each open w.p. ``p``."""
    if n_gates == 1:
        return [1.0 - p, p]
    k = n_gates
    return [comb(k, i) * p**i * (1.0 - p) ** (k - i) for i in range(k + 1)]


def states_steady(model: NeuronModel, v: jax.Array, kinetic=()) -> tuple:
    """Stationary state fractions (states, n) of each channel at ``v`` (n,) [mV]."""
    gates = dict(zip(model.gate_names, gates_steady(model, v, kinetic), strict=True))
    fractions = []
    for channel in model.channels:
        (first, power), *rest = channel.gates
        x = jnp.stack(_binomial(gates[first], power))
        for gate, power in rest:  # later gates vary slower: index 4 j + i for m{i}h{j}
            x = jnp.concatenate([x * b for b in _binomial(gates[gate], power)])
        fractions.append(x)
    return tuple(fractions)


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


def markov_drift(model: NeuronModel, states: tuple, r: tuple, dt) -> tuple:
    """Master equations over ``dt`` at fixed V, solved exactly: ``x ← P(V, dt)ᵀ x``.

    Per channel, each gate type in turn moves within the states of the others (classic
    Na: the 3 m-gates within each h state, then the h-gate within each m count; state
    index ``4 j + i`` for ``m{i}h{j}``). On binomial (product-form) fractions this is
    exactly the deterministic model's exponential Euler gate update. ``r``: the rates.
    """
    moved = []
    for channel, x in zip(model.channels, states, strict=True):
        n_gates = len(channel.gates)
        x = x.reshape(*reversed(channel.shape), -1)  # (last gate, ..., first gate, n)
        for slot, (gate, _) in enumerate(channel.gates):
            g = model.gate_index(gate)
            axis = n_gates - 1 - slot
            parts = list(jnp.moveaxis(x, axis, 0))
            x = jnp.stack(propagate_gates(parts, r[2 * g], r[2 * g + 1], dt), axis=axis)
        moved.append(x.reshape(channel.n_states, -1))
    return tuple(moved)


def edge_noise(x, scheme: Scheme, rates: jax.Array, inv_n, noise, dt):
    """(states, n) Langevin increment of fractions ``x`` (states, n): one noise per pair.

    Pair ``i ⇌ j`` moves ``√(max(0, k_ij x_i + k_ji x_j) dt / N) ξ`` from ``x_i`` to ``x_j``;
    ``rates`` (2 G, n) [1/ms], ``inv_n`` (n,) = 1/N, ``noise`` (P, n) standard normals.
    """
    flux_fwd = scheme.mult_fwd * rates[scheme.rate_fwd] * x[scheme.source]  # (P, n), 1/ms
    flux_bwd = scheme.mult_bwd * rates[scheme.rate_bwd] * x[scheme.target]  # (P, n), 1/ms
    moved = noise_sd(flux_fwd + flux_bwd, inv_n, dt) * noise  # (P, n)
    return jnp.asarray(scheme.stoich) @ moved  # per-column order fixed, as in to_simplex


def edge_step(model: NeuronModel, states: tuple, v, noise, mem: Membrane, dt) -> tuple:
    """Orio & Soudry (2012) Langevin update (one noise per reversible pair) at ``v`` (n,)
    [mV] over ``dt`` [ms].

    ``noise``: :func:`n_edge_noise` rows (n,) of standard normals, the pairs of each channel
    in order (classic 10 Na then 4 K).
    """
    r = gate_rates(model, v, mem.kinetic, mem.rate_scale)
    rates = jnp.stack(r)  # (2 G, n), 1/ms
    half = markov_drift(model, states, r, 0.5 * dt)
    kicked, start = [], 0
    for scheme, x, inv_n in zip(schemes(model), half, mem.inv_n, strict=True):
        stop = start + len(scheme.source)
        pair_noise = jnp.stack(noise[start:stop])  # (P, n)
        kicked.append(x + edge_noise(x, scheme, rates, inv_n, pair_noise, dt))
        start = stop
    drift = markov_drift(model, tuple(kicked), r, 0.5 * dt)
    return tuple(to_simplex(x) for x in drift)


def states_open(model: NeuronModel, states: tuple) -> tuple:
    """Open fraction of each channel (its all-gates-open state; classic ``x_m3h1``,
    ``x_n4``), each (n,)."""
    return tuple(x[channel.open_state] for channel, x in zip(model.channels, states,
                                                             strict=True))
