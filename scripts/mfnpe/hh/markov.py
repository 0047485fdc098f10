"""High-fidelity stochastic HH simulators: exact Markov channels and exact per-step moves.

Both track the number of channels in each Markov state of each channel of the neuron
model (:mod:`mfnpe.hh.models`; classic: Na in the 8 states ``m{i}h{j}``, K in the 5
states ``n{i}``; docs/method.md, "Fidelities") with the hybrid scheme of Chow & White
(1996) / Goldwyn & Shea-Brown (2011). Within each step of length ``dt`` the voltage is
held, so the transition rates (classic: 28) are constant and

- ``markov`` simulates every channel transition exactly by Gillespie's direct method:
  exponential waiting times from the total propensity, a state chosen in proportion to
  (exit rate x count), then one of its outgoing transitions in proportion to its rate.
  The waiting time left over at the step boundary is discarded, which is exact because
  the waiting times are memoryless.
- ``binomial`` moves the channels of each state ``s`` to their states at the end of the
  step by one Multinomial(N_s, P[s, :]) draw, ``P = exp(Q dt)`` the exact transition
  matrix of the held voltage (any number of transitions per channel per step). The gates
  of a channel are independent, so ``P`` is in closed form (:func:`_transition_probs`):
  a channel with ``i`` of ``k`` like gates open ends with ``i'`` open with the probability
  of ``Binomial(i, p_oo) + Binomial(k − i, p_co)`` = ``i'``, ``p_oo, p_co`` the one-gate
  exponential-Euler probabilities, and a channel's matrix is the product over its gate
  types of these (Na: the m-gate matrix times the h-gate one). Given V, a step of ``binomial`` is thus distributed exactly as a step of
  ``markov``; its noise-free limit (huge area) is the deterministic model.

Then V is advanced by exponential Euler with the open fractions at the end of the step
(:func:`mfnpe.hh.membrane.make_exp_euler`).
Initial state: V at the simulation's resting potential (:mod:`mfnpe.hh.rest`), channel
states drawn from the stationary multinomial there (at ``clamp_mV`` under a clamp).

Temperature: each gate type's rates are multiplied by its channel's Q10 factor at the
simulation's ``temperature`` (:meth:`mfnpe.hh.channels.NeuronModel.rate_factors`, a column
of the kernel's parameters) right after they are computed (:func:`_model_rates`); at the
model's reference temperature the factor is exactly 1.0 and skipped.

Models: the kernels know no model. Its state layout and transition tables
(:func:`tables`) and its rates (:func:`compiled_rates`: the model's own rate functions,
compiled, as a typed list of first-class functions of one signature) are kernel
*arguments*, so a model from any file runs through the kernels that numba keeps in its
disk cache; ``tests/test_models.py`` runs every registered model, and one from a file,
through both simulators.

Randomness: the compiled kernel seeds numba's (thread-local) generator with
``seeds[i]`` at the start of simulation ``i``, so each simulation depends only on its own
constants and seed, never on batch composition or on the thread that ran it. The kernels
release the GIL: run batches concurrently in a thread pool for parallelism.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Mapping
from functools import cache

import numba
import numpy as np
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.extending import register_jitable

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.membrane import X_FLOOR, make_exp_euler
from mfnpe.hh.models import model_of
from mfnpe.hh.output import SimOutput
from mfnpe.hh.rest import resting_potential
from mfnpe.stimulus.step import Stimulus

_jit = numba.njit(cache=True, nogil=True)

# ---------------------------------------------------------------------------------------
# Rates as scalar numba functions. ``make_rates(np, ...)`` would return 0-d arrays under
# numba (its np.where on scalars allocates one), so the formulas are compiled over a
# scalar namespace instead: a module object, whose attributes numba resolves at compile
# time, with a scalar ``where``.


@register_jitable
def _scalar_where(condition, if_true, if_false):
    return if_true if condition else if_false


_scalar_xp = types.ModuleType("mfnpe_hh_markov_scalar_xp")
_scalar_xp.abs = np.abs
_scalar_xp.exp = np.exp
_scalar_xp.expm1 = np.expm1
_scalar_xp.maximum = max
_scalar_xp.minimum = min
_scalar_xp.where = _scalar_where

RATE_SIGNATURE = numba.types.float64(numba.types.float64, numba.types.float64[::1])
"""A compiled rate as the kernels call it: ``rate(v [mV], kinetic (K,) float64) -> 1/ms``."""


_ON_KINETIC = (
    lambda rate: lambda v, k: rate(v),
    lambda rate: lambda v, k: rate(v, k[0]),
    lambda rate: lambda v, k: rate(v, k[0], k[1]),
    lambda rate: lambda v, k: rate(v, k[0], k[1], k[2]),
    lambda rate: lambda v, k: rate(v, k[0], k[1], k[2], k[3]),
)
"""Per number of kinetic constants K: ``rate(v, *kinetic) -> rate(v, kinetic (K,))``."""
MAX_KINETIC = len(_ON_KINETIC) - 1
"""The most kinetic constants a model's rates may take after V."""


@cache
def compiled_rates(model: NeuronModel) -> tuple:
    """The model's rates compiled for the kernels: a tuple of :data:`RATE_SIGNATURE`
    functions ``rate(v [mV], kinetic (K,)) -> 1/ms`` (numba types it as a tuple of
    first-class functions), order :attr:`NeuronModel.rate_names` (rate id ``2 g`` is
    ``α`` of gate type ``g``). The kernels take it as an argument, so they know no model.

    Each function is compiled once per machine: numba keys a cached closure by its code
    and its captured values (here the model's own rate function), and names its symbol
    after ``__qualname__``, which is therefore the model's and the rate's name: two
    closures of one name compiled in different processes would share a symbol."""
    if len(model.kinetic) > MAX_KINETIC:
        raise ValueError(f"model {model.name!r}: its rates take {len(model.kinetic)} kinetic "
                         f"constants {model.kinetic}; the simulators take at most {MAX_KINETIC}")
    scalar = model.make_rates(_scalar_xp, jit=register_jitable)
    missing = [name for name in model.rate_names if not hasattr(scalar, name)]
    if missing:
        raise ValueError(f"model {model.name!r}: make_rates returns no {missing}")
    compiled = []
    for name in model.rate_names:
        on_kinetic = _ON_KINETIC[len(model.kinetic)](getattr(scalar, name))
        on_kinetic.__qualname__ = f"{_identifier(model.name)}_{name}"
        compiled.append(numba.njit(RATE_SIGNATURE, nogil=True, cache=True)(on_kinetic))
    return tuple(compiled)


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


# Passing compiled functions as values is the "first-class function" feature, which
# numba calls experimental; it is what keeps the kernels free of models, and the tests
# check its results against every model's reference.
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)


MAX_EXITS_PER_STEP = 100.0
"""A step in which one channel would expect more than this many transitions (exit rate x
dt) marks the simulation as diverged: V is far outside the physiological range (below
about -185 mV at dt = 0.01 ms), and the exact simulation would practically never end. Both
methods apply it, so which simulations are valid does not depend on the method."""

MARKOV = 0
BINOMIAL = 1


@_jit
def _model_rates(rate_fns, v, kinetic, factors, rates):
    """Fill ``rates`` (2 G,) [1/ms] with the model's rates at ``v`` [mV] (``rate_fns``:
    :func:`compiled_rates`; ``kinetic`` (K,): its kinetic constants), then multiply each
    gate type's two rates by its temperature factor ``factors`` (G,)
    (:meth:`mfnpe.hh.channels.NeuronModel.rate_factors`); a factor of exactly 1.0 (the
    reference temperature) is skipped, so the rates stay bit for bit."""
    for r in range(len(rate_fns)):
        rates[r] = rate_fns[r](v, kinetic)
    for g in range(factors.shape[0]):
        if factors[g] != 1.0:
            rates[2 * g] *= factors[g]
            rates[2 * g + 1] *= factors[g]


# ---------------------------------------------------------------------------------------
# State layout of a model: one count vector over the states of all its channels, in
# channel order (classic: Na states 0..7, order NA_STATES, then K states 8..12).


@cache
def tables(model: NeuronModel) -> tuple:
    """The kernel's tables of ``model`` (numba freezes nothing: they are arguments).

    Returns the tuple
    ``(n_out, dest, rate_id, mult, state_chan, chan_first, chan_size, chan_open, nearest,
    slot_start, slot_gate, gate_power, state_count)``:
    per state (S) the number of outgoing transitions, their destinations, rate ids and
    multipliers ((S, max_out); rate = mult · rates[rate_id]) and its channel; per channel
    its first state, number of states and open state (global indices); ``nearest`` (S,
    max_states): per state the states of its channel (local index) ordered by the number
    of gate changes to reach them, itself first; ``slot_start`` (channels + 1,) into
    ``slot_gate`` (the gate type of each of a channel's gates); ``gate_power`` (G,) the
    power of each gate type; ``state_count`` (S, max_gates): open gates per gate slot;
    then ``(pair_src, pair_dst, pair_idx)``: for every (state, destination in its channel)
    pair, the state, the destination (local index) and (P, max_gates) the flat indices
    into the (G + 1, k + 1, k + 1) gate matrices of :func:`_transition_probs` whose
    product is the pair's probability (padded with the cell holding 1.0, ``[G, 0, 0]``).
    """
    channels = model.channels
    sizes = [c.n_states for c in channels]
    firsts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    n_states = int(sum(sizes))
    out = [[] for _ in range(n_states)]
    for first, channel in zip(firsts, channels, strict=True):
        for source, target, rid, multiplier in model.transitions(channel):
            out[first + source].append((first + target, rid, multiplier))
    max_out = max(len(o) for o in out)
    n_out = np.array([len(o) for o in out], dtype=np.int64)
    dest = np.zeros((n_states, max_out), dtype=np.int64)
    rate_id = np.zeros((n_states, max_out), dtype=np.int64)
    mult = np.zeros((n_states, max_out))
    for s, rows in enumerate(out):
        for j, (d, rid, multiplier) in enumerate(rows):
            dest[s, j], rate_id[s, j], mult[s, j] = d, rid, multiplier
    state_chan = np.repeat(np.arange(len(channels)), sizes).astype(np.int64)
    chan_open = np.array([f + c.open_state for f, c in zip(firsts, channels, strict=True)],
                         dtype=np.int64)
    nearest = np.zeros((n_states, max(sizes)), dtype=np.int64)
    max_gates = max(len(c.gates) for c in channels)
    state_count = np.zeros((n_states, max_gates), dtype=np.int64)
    for first, channel in zip(firsts, channels, strict=True):
        counts = channel.counts
        for s, here in enumerate(counts):
            distance = [sum(abs(a - b) for a, b in zip(there, here, strict=True))
                        for there in counts]
            nearest[first + s, :len(counts)] = sorted(range(len(counts)), key=distance.__getitem__)
            state_count[first + s, :len(here)] = here
    slot_start = np.cumsum([0] + [len(c.gates) for c in channels]).astype(np.int64)
    slot_gate = np.array([model.gate_index(g) for c in channels for g, _ in c.gates],
                         dtype=np.int64)
    gate_power = np.array([p for c in channels for _, p in c.gates], dtype=np.int64)
    side = int(gate_power.max()) + 1
    one = len(gate_power) * side * side  # the cell [G, 0, 0], which holds 1.0
    pair_src, pair_dst, pair_idx = [], [], []
    for first, channel in zip(firsts, channels, strict=True):
        gates = [model.gate_index(g) for g, _ in channel.gates]
        for s, here in enumerate(channel.counts):
            for d, there in enumerate(channel.counts):
                index = [g * side * side + a * side + b
                         for g, a, b in zip(gates, here, there, strict=True)]
                pair_src.append(first + s)
                pair_dst.append(d)
                pair_idx.append(index + [one] * (max_gates - len(index)))
    return (n_out, dest, rate_id, mult, state_chan, firsts, np.array(sizes, dtype=np.int64),
            chan_open, nearest, slot_start, slot_gate, gate_power, state_count,
            np.array(pair_src, dtype=np.int64), np.array(pair_dst, dtype=np.int64),
            np.array(pair_idx, dtype=np.int64).reshape(len(pair_src), max_gates))


# ---------------------------------------------------------------------------------------
# Compiled building blocks (scalars in mV, ms, 1/ms, mS/cm², µA/cm², µF/cm²).


@_jit
def _transition_rates(rates, q, exit_rate, tab):
    """Fill ``q`` (S, max_out) transition rates and ``exit_rate`` (S,) totals [1/ms]."""
    n_out, rate_id, mult = tab[0], tab[2], tab[3]
    for s in range(n_out.shape[0]):
        total = 0.0
        for j in range(n_out[s]):
            q[s, j] = mult[s, j] * rates[rate_id[s, j]]
            total += q[s, j]
        exit_rate[s] = total


@_jit
def _rates_ok(rates, exit_rate, dt):
    """True when every gate rate is >= 0 (a model's formula may leave [0, 1] for a steady
    state somewhere: that simulation is invalid from there, not a crash of the job) and
    every exit rate finite with ``exit_rate * dt <= MAX_EXITS_PER_STEP``."""
    for r in range(rates.shape[0]):
        if not rates[r] >= 0.0:  # also False for NaN
            return False
    for s in range(exit_rate.shape[0]):
        if not exit_rate[s] * dt <= MAX_EXITS_PER_STEP:  # also False for NaN
            return False
    return True


@_jit
def _stationary_probs(rates, probs, gate_inf, tab):
    """Fill ``probs`` (S,) with the stationary state probabilities of every channel:
    binomial in each gate type, product over a channel's gates (classic: as
    ``kinetics.na_state_probs`` / ``k_state_probs``). ``gate_inf`` (G,) is workspace."""
    state_chan, slot_start, slot_gate, gate_power, state_count = (
        tab[4], tab[9], tab[10], tab[11], tab[12])
    for g in range(gate_inf.shape[0]):
        gate_inf[g] = rates[2 * g] / (rates[2 * g] + rates[2 * g + 1])
    for s in range(probs.shape[0]):
        c = state_chan[s]
        p = 1.0
        for j in range(slot_start[c], slot_start[c + 1]):
            g = slot_gate[j]
            p *= _binom_pmf(gate_power[g], state_count[s, j - slot_start[c]], gate_inf[g])
        probs[s] = p


@_jit
def _binom_pmf(n, k, p):
    """P(k successes of n) for success probability p (small n)."""
    coefficient = 1.0
    for i in range(k):
        coefficient = coefficient * (n - i) / (i + 1)
    return coefficient * p**k * (1.0 - p) ** (n - k)


@_jit
def _draw_multinomial(n_total, probs, start, stop, counts):
    """Draw ``counts[start:stop]`` ~ Multinomial(n_total, probs[start:stop]), sequentially."""
    remaining = n_total
    mass = 0.0
    for s in range(start, stop):
        mass += probs[s]
    for s in range(start, stop - 1):
        p = min(max(probs[s] / mass, 0.0), 1.0) if mass > 0.0 else 0.0
        counts[s] = np.random.binomial(remaining, p) if remaining > 0 else 0
        remaining -= counts[s]
        mass -= probs[s]
    counts[stop - 1] = remaining


@_jit
def _gillespie_step(counts, q, exit_rate, propensity, dt, tab):
    """Advance ``counts`` (S,) exactly over ``dt`` [ms] at constant rates; return #events.

    ``propensity`` (S,) is workspace: exit rate x count per state, kept up to date
    incrementally, as is their sum.
    """
    n_out, dest = tab[0], tab[1]
    n_states = counts.shape[0]
    total = 0.0  # 1/ms
    for s in range(n_states):
        propensity[s] = exit_rate[s] * counts[s]
        total += propensity[s]
    events = 0
    t = 0.0  # ms into the step
    while total > 0.0:
        t += np.random.exponential() / total
        if t >= dt:
            break  # leftover time discarded: exact, the waiting time is memoryless
        target = np.random.random() * total
        s = 0
        while s < n_states - 1 and target >= propensity[s]:
            target -= propensity[s]
            s += 1
        if propensity[s] <= 0.0:  # rounding pushed the target past the last live state
            s = _last_live_state(propensity)
            if s < 0:
                break  # only absorbing states occupied: total was rounding residue
            target = propensity[s]
        # target / count is uniform over [0, exit_rate[s]): pick the transition with it
        x = min(target / counts[s], exit_rate[s])
        j = 0
        while j < n_out[s] - 1 and x >= q[s, j]:
            x -= q[s, j]
            j += 1
        d = dest[s, j]
        counts[s] -= 1
        counts[d] += 1
        propensity[s] = exit_rate[s] * counts[s]
        propensity[d] = exit_rate[d] * counts[d]
        total += exit_rate[d] - exit_rate[s]
        events += 1
    return events


@_jit
def _last_live_state(propensity):
    """Index of the last state with positive propensity, or -1."""
    for s in range(propensity.shape[0] - 1, -1, -1):
        if propensity[s] > 0.0:
            return s
    return -1


@_jit
def _gate_probs(alpha, beta, dt):
    """``(p_oo, p_co)``: one gate open at the end of ``dt`` [ms] if open / closed at its start."""
    x_inf = alpha / (alpha + beta)
    decay = np.exp(-(alpha + beta) * dt)
    return x_inf + (1.0 - x_inf) * decay, x_inf * (1.0 - decay)


@_jit
def _gate_count_matrix(n_gates, p_oo, p_co, out):
    """Fill ``out[i, i']`` (i, i' <= n_gates): P(i' of n_gates like gates open | i open).

    The coefficients of ``(1 − p_oo + p_oo z)^i (1 − p_co + p_co z)^(n_gates − i)``.
    """
    for i in range(n_gates + 1):
        out[i, :] = 0.0
        out[i, 0] = 1.0
        for g in range(n_gates):  # multiply by one gate's polynomial, degree g -> g + 1
            p = p_oo if g < i else p_co
            for d in range(g + 1, 0, -1):
                out[i, d] = out[i, d] * (1.0 - p) + out[i, d - 1] * p
            out[i, 0] *= 1.0 - p


@_jit
def _transition_probs(rates, dt, gate_matrices, probs, tab):
    """Fill ``probs`` (S, max_states): row s holds P(state at the end of ``dt`` | s at its
    start) over the states of s's channel (local index; classic Na rows 0..7 over the 8 Na
    states, index 4 j + i, K rows 8..12 over the 5 K states in columns 0..4): the product
    over the channel's gates of the one-gate-type count matrices. ``gate_matrices``
    (G + 1, k + 1, k + 1), k the largest gate power, C-contiguous, is workspace (the last
    plane holds the 1.0 that pads channels with fewer gates).
    """
    chan_first, slot_start, slot_gate, gate_power = tab[5], tab[9], tab[10], tab[11]
    n_gate_types = gate_power.shape[0]
    for g in range(n_gate_types):
        p_oo, p_co = _gate_probs(rates[2 * g], rates[2 * g + 1], dt)
        _gate_count_matrix(gate_power[g], p_oo, p_co, gate_matrices[g])
    for c in range(chan_first.shape[0]):
        first, a = chan_first[c], slot_start[c]
        n_slots = slot_start[c + 1] - a
        if n_slots == 1:  # one gate type: its count matrix
            g = slot_gate[a]
            size = gate_power[g] + 1
            probs[first:first + size, :size] = gate_matrices[g, :size, :size]
        elif n_slots == 2:  # the Kronecker product, first gate fastest (Na: m x h)
            g0, g1 = slot_gate[a], slot_gate[a + 1]
            n0, n1 = gate_power[g0] + 1, gate_power[g1] + 1
            m0, m1 = gate_matrices[g0], gate_matrices[g1]
            for j in range(n1):
                for i in range(n0):
                    row = probs[first + n0 * j + i]
                    for j2 in range(n1):
                        x, start = m1[j, j2], n0 * j2
                        for i2 in range(n0):
                            row[start + i2] = m0[i, i2] * x
        else:  # any number of gates: the pair tables
            _pair_probs(c, gate_matrices, probs, tab)


@_jit
def _pair_probs(c, gate_matrices, probs, tab):
    """:func:`_transition_probs` for channel ``c`` with any number of gates, from the
    tables' (state, destination) pairs."""
    state_chan, gate_power, pair_src, pair_dst, pair_idx = (
        tab[4], tab[11], tab[13], tab[14], tab[15])
    gate_matrices[gate_power.shape[0], 0, 0] = 1.0
    flat = gate_matrices.reshape(-1)
    for q in range(pair_src.shape[0]):
        if state_chan[pair_src[q]] != c:
            continue
        p = 1.0
        for j in range(pair_idx.shape[1]):
            p *= flat[pair_idx[q, j]]
        probs[pair_src[q], pair_dst[q]] = p


@_jit
def _binomial_step(counts, probs, arrived, tab):
    """Move ``counts`` (S,) over one step: Multinomial(counts[s], probs[s]) per state s.

    ``probs`` from :func:`_transition_probs`; ``arrived`` (S,) is workspace: the counts at
    the end of the step. The multinomial is drawn as binomials over the destinations,
    nearest first (the likeliest), so it usually ends, nothing left to move, after 2–4.
    """
    state_chan, chan_first, chan_size, nearest = tab[4], tab[5], tab[6], tab[8]
    arrived[:] = 0
    for s in range(counts.shape[0]):
        c = state_chan[s]
        first = chan_first[c]  # the block of s's channel
        size = chan_size[c]
        remaining = counts[s]
        mass = 1.0  # probability of the destinations not yet served
        for k in range(size - 1):
            if remaining == 0:
                break
            d = nearest[s, k]
            p = probs[s, d]
            moved = np.random.binomial(remaining, min(p / mass, 1.0)) if mass > p else remaining
            arrived[first + d] += moved
            remaining -= moved
            mass -= p
        arrived[first + nearest[s, size - 1]] += remaining
    for s in range(counts.shape[0]):
        counts[s] = arrived[s]


_voltage_step = make_exp_euler(_scalar_xp, jit=_jit)
"""The membrane's two-channel step, compiled (tests compare :func:`_voltage_step_channels`)."""


@_jit
def _voltage_step_channels(v, g_open, e, g_l, e_l, current, cap, dt):
    """The membrane's exponential-Euler step (:func:`mfnpe.hh.membrane.exp_euler_channels`)
    for open conductances ``g_open`` (channels,) [mS/cm²] with reversals ``e`` [mV]."""
    i_net = current  # µA/cm²
    for c in range(g_open.shape[0]):
        i_net = i_net - g_open[c] * (v - e[c])
    i_net = i_net - g_l * (v - e_l)
    g_tot = g_open[0]
    for c in range(1, g_open.shape[0]):
        g_tot = g_tot + g_open[c]
    g_tot = g_tot + g_l
    x = max(dt * g_tot / cap, X_FLOOR)
    return v + dt / cap * i_net * (-np.expm1(-x) / x)


@_jit
def _fill_nan(start, record, v_out, open_out):
    """Mark a diverged simulation: NaN in its output rows from sample ``start`` on."""
    for k in range(start, v_out.shape[0]):
        v_out[k] = np.nan
        if record:
            for c in range(open_out.shape[0]):
                open_out[c, k] = np.nan


@_jit
def _channel_step(method, counts, rates, q, exit_rate, dt, ws, tab):
    """Advance ``counts`` over one step with ``method``; return #transitions (markov only).

    ``ws``: the workspaces ``(propensity (S,), probs (S, max_states), gate matrices
    (G + 1, k + 1, k + 1), arrived (S,))``.
    """
    propensity, probs, gates, arrived = ws
    if method == MARKOV:
        return _gillespie_step(counts, q, exit_rate, propensity, dt, tab)
    _transition_probs(rates, dt, gates, probs, tab)
    _binomial_step(counts, probs, arrived, tab)
    return 0


@_jit
def _simulate_one(
    method, rate_fns, params, n_ch, waveform, dt, clamp, v_clamp, record, v_out, open_out,
    ws_rates, ws_q, ws_exit, ws_stationary, ws_counts, ws_gate, ws_open, ws_inv, ws, tab,
):
    """Simulate one neuron; write its rows ``v_out`` (T,) (and ``open_out`` (channels, T)
    if ``record``).

    ``params``: the channels' conductances, their reversals, then gL, EL, C, the current
    scale, V at rest [mV], each gate type's temperature factor and the kinetic constants
    (:func:`_kernel_inputs`); ``n_ch``
    (channels,) channel numbers; ``ws_*``, ``ws`` preallocated workspaces. Returns the
    number of channel transitions (``markov``; 0 for ``binomial``).
    """
    n_c = n_ch.shape[0]
    chan_first, chan_size, chan_open = tab[5], tab[6], tab[7]
    g_max = params[:n_c]
    e_rev = params[n_c:2 * n_c]
    g_l, e_l, cap, scale, v_rest = params[2 * n_c:2 * n_c + 5]
    n_g = tab[11].shape[0]  # gate types
    factors = params[2 * n_c + 5:2 * n_c + 5 + n_g]
    kinetic = params[2 * n_c + 5 + n_g:]
    for c in range(n_c):
        ws_inv[c] = 1.0 / n_ch[c] if n_ch[c] > 0 else 0.0
    v = v_clamp if clamp else v_rest  # mV

    # initial states: the stationary multinomial
    _model_rates(rate_fns, v, kinetic, factors, ws_rates)
    _transition_rates(ws_rates, ws_q, ws_exit, tab)
    if not _rates_ok(ws_rates, ws_exit, dt):
        _fill_nan(0, record, v_out, open_out)
        return 0
    _stationary_probs(ws_rates, ws_stationary, ws_gate, tab)
    for c in range(n_c):
        first = chan_first[c]
        _draw_multinomial(n_ch[c], ws_stationary, first, first + chan_size[c], ws_counts)

    v_rates = v  # V at which ws_rates, ws_q, ws_exit were last computed (once under clamp)
    events = 0
    n_steps = v_out.shape[0]
    for k in range(n_steps):
        v_out[k] = v
        if record:
            for c in range(n_c):
                open_out[c, k] = ws_counts[chan_open[c]] * ws_inv[c]
        if k == n_steps - 1:
            break
        if v != v_rates:
            _model_rates(rate_fns, v, kinetic, factors, ws_rates)
            _transition_rates(ws_rates, ws_q, ws_exit, tab)
            v_rates = v
            if not _rates_ok(ws_rates, ws_exit, dt):
                _fill_nan(k + 1, record, v_out, open_out)
                break
        # channels over [k dt, (k+1) dt] at fixed V, then V with the new open fractions
        events += _channel_step(method, ws_counts, ws_rates, ws_q, ws_exit, dt, ws, tab)
        if not clamp:
            for c in range(n_c):
                ws_open[c] = g_max[c] * ws_counts[chan_open[c]] * ws_inv[c]  # mS/cm²
            current = scale * waveform[k]  # µA/cm²
            v = _voltage_step_channels(v, ws_open, e_rev, g_l, e_l, current, cap, dt)
            if not np.isfinite(v):
                _fill_nan(k + 1, record, v_out, open_out)
                break
    return events


@_jit
def _simulate_batch(
    method, rate_fns, params, n_channels, seeds, waveform, dt, clamp, v_clamp, record, v_out,
    open_out, n_events, tab,
):
    """Simulate ``n`` neurons one after another, reseeding before each.

    Parameters
    ----------
    method : MARKOV or BINOMIAL.
    rate_fns : the model's :func:`compiled_rates`.
    params : (n, 2 channels + 5 + gate types + kinetic) float64 (:func:`_kernel_inputs`).
    n_channels : (n, channels) int64 channel numbers.
    seeds : (n,) uint32.
    waveform : (T,) float64 stimulus waveform (current = scale * waveform[k] in step k).
    dt : step [ms]. clamp, v_clamp : hold V at ``v_clamp`` [mV] if ``clamp``.
    record : write open fractions into ``open_out`` (channels, n, T) float32.
    v_out : (n, T) float32 output. n_events : (n,) int64 output.
    tab : the model's :func:`tables`.
    """
    n_states, max_out = tab[1].shape
    n_gate_types = tab[11].shape[0]
    k_max = 0
    for g in range(n_gate_types):
        k_max = max(k_max, tab[11][g])
    n_c = n_channels.shape[1]
    rates = np.empty(2 * n_gate_types)
    q = np.zeros((n_states, max_out))
    exit_rate = np.empty(n_states)
    stationary = np.empty(n_states)
    counts = np.empty(n_states, dtype=np.int64)
    gate_inf = np.empty(n_gate_types)
    g_open = np.empty(n_c)
    inv = np.empty(n_c)
    ws = (np.empty(n_states), np.zeros((n_states, tab[8].shape[1])),
          np.zeros((n_gate_types + 1, k_max + 1, k_max + 1)), np.empty(n_states, dtype=np.int64))
    for i in range(params.shape[0]):
        np.random.seed(seeds[i])
        row = i if record else 0  # open-fraction rows are a (channels, 1, T) dummy unless recorded
        n_events[i] = _simulate_one(
            method, rate_fns, params[i], n_channels[i], waveform, dt, clamp, v_clamp, record,
            v_out[i], open_out[:, row], rates, q, exit_rate, stationary, counts, gate_inf,
            g_open, inv, ws, tab,
        )


# ---------------------------------------------------------------------------------------
# Python entry points.


def _kernel_inputs(constants: Mapping[str, np.ndarray], stimulus, seeds, model) -> tuple:
    """Validated ``(params, n_channels, seeds)`` for the kernel.

    ``params`` (n, 2 channels + 5 + gate types + kinetic) float64: each channel's
    conductance, each channel's reversal, ``gL, EL, C``, the stimulus's current scale, V at
    rest [mV], each gate type's temperature factor (``NeuronModel.factors_of``), then the
    model's kinetic constants; ``n_channels`` (n, channels) int64; ``seeds`` (n,) uint32.
    """
    missing = [name for name in model.names if name not in constants]
    if missing:
        raise ValueError(f"constants lack {missing}; every constant of model {model.name!r} "
                         f"{list(model.names)} is needed")
    seeds = np.asarray(seeds)
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be a 1-d integer array, got {seeds.dtype} {seeds.shape}")
    if seeds.size and (seeds.min() < 0 or seeds.max() > np.iinfo(np.uint32).max):
        raise ValueError("seeds must lie in the uint32 range")
    n = seeds.shape[0]
    names = ([c.conductance for c in model.channels] + [c.reversal for c in model.channels]
             + ["gL", "EL", "C"])
    for name in (*model.names,):
        if np.shape(constants[name]) != (n,):
            raise ValueError(f"constants[{name!r}] has shape {np.shape(constants[name])}, "
                             f"expected ({n},)")
    columns = [np.asarray(constants[name], dtype=np.float64) for name in names]
    kinetic = [np.asarray(constants[name], dtype=np.float64) for name in model.kinetic]
    scale = np.broadcast_to(stimulus.current_scale(constants), (n,))  # µA/cm² per waveform unit
    holding = stimulus.holding_current(constants)  # µA/cm² before the start, or None
    params = np.ascontiguousarray(
        np.stack([*columns, scale, resting_potential(constants, holding),
                  *model.factors_of(constants), *kinetic], axis=1))
    counts = model.channel_counts(constants)
    if any((c < 0).any() for c in counts):
        raise ValueError("conductances and area must give non-negative channel numbers")
    n_channels = np.ascontiguousarray(np.stack(counts, axis=1), dtype=np.int64)
    return params, n_channels, seeds.astype(np.uint32)


def _simulate(method, constants, stimulus: Stimulus, dt, seeds, clamp_mV, record_open):
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    model = model_of(constants)
    tab = tables(model)
    params, n_channels, seeds = _kernel_inputs(constants, stimulus, seeds, model)
    waveform = np.ascontiguousarray(stimulus.waveform(dt), dtype=np.float64)
    n, n_steps = params.shape[0], waveform.shape[0]
    n_c = len(model.channels)
    v = np.empty((n, n_steps), dtype=np.float32)
    open_out = np.zeros((n_c, n if record_open else 1, n_steps), dtype=np.float32)
    n_events = np.zeros(n, dtype=np.int64)
    clamp = clamp_mV is not None
    _simulate_batch(
        method, compiled_rates(model), params, n_channels, seeds, waveform, float(dt), clamp,
        float(clamp_mV) if clamp else 0.0, bool(record_open), v, open_out, n_events, tab,
    )
    return SimOutput.of(v, dt, [c.name for c in model.channels],
                        list(open_out) if record_open else None,
                        n_events=n_events if method == MARKOV else None)


def simulate_markov(constants, stimulus, dt, seeds, *, clamp_mV=None, record_open=False):
    """Exact hybrid simulation: Gillespie channel transitions, exponential-Euler voltage.

    Parameters
    ----------
    constants : {name: (n,) float64} every constant of the model, and ``"model"`` (n,) str
        naming it (``mfnpe.hh.model.constants_table``; absent: classic).
    stimulus : a stimulus (:mod:`mfnpe.stimulus.step`); current in step k of simulation i is
        ``current_scale[i] * waveform[k]`` [µA/cm²].
    dt : integration step and sampling interval [ms].
    seeds : (n,) uint32, one per simulation.
    clamp_mV : hold V at this value [mV] for the whole trace (channels start in the
        stationary distribution there); else V starts at rest (:mod:`mfnpe.hh.rest`).
    record_open : also return the open fractions (``open``: every channel; ``open_na``,
        ``open_k``: the first two, classic Na ``m3h1``, K ``n4``).

    Returns
    -------
    SimOutput with ``v`` (n, T) float32 [mV], ``n_events`` (n,) int64 transitions, and
    ``open_na, open_k`` (n, T) float32 when ``record_open``. A simulation whose V became
    non-finite (or whose rates exploded, see ``MAX_EXITS_PER_STEP``) is NaN from there on.
    """
    return _simulate(MARKOV, constants, stimulus, dt, seeds, clamp_mV, record_open)


def simulate_binomial(constants, stimulus, dt, seeds, *, clamp_mV=None, record_open=False):
    """Hybrid simulation by exact per-step multinomial channel moves, exponential-Euler voltage.

    Same parameters and outputs as :func:`simulate_markov`, except ``n_events`` is None.
    Given V, each step is exact; cost per step does not grow with the channel numbers.
    """
    return _simulate(BINOMIAL, constants, stimulus, dt, seeds, clamp_mV, record_open)
