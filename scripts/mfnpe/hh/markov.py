"""High-fidelity stochastic HH simulators: exact Markov channels and exact per-step moves.

Both track the number of Na channels in each of the 8 states ``m{i}h{j}`` and of K
channels in each of the 5 states ``n{i}`` (docs/method.md, "Fidelities") with the hybrid scheme of
Chow & White (1996) / Goldwyn & Shea-Brown (2011). Within each step of length ``dt`` the
voltage is held, so the 28 transition rates are constant and

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
  exponential-Euler probabilities, and the Na matrix is the m-gate matrix times the h-gate
  one. Given V, a step of ``binomial`` is thus distributed exactly as a step of
  ``markov``; its noise-free limit (huge area) is the deterministic model.

Then V is advanced by exponential Euler with the open fractions at the end of the step
(:func:`mfnpe.hh.membrane.make_exp_euler`).
Initial state: V at the simulation's resting potential (:mod:`mfnpe.hh.rest`), channel
states drawn from the stationary multinomial there (at ``clamp_mV`` under a clamp).

Randomness: the compiled kernel seeds numba's (thread-local) generator with
``seeds[i]`` at the start of simulation ``i``, so each simulation depends only on its own
constants and seed, never on batch composition or on the thread that ran it. The kernels
release the GIL: run batches concurrently in a thread pool for parallelism.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

import numba
import numpy as np

from mfnpe.hh.kinetics import (
    K_OPEN,
    K_STATES,
    K_TRANSITIONS,
    NA_OPEN,
    NA_STATES,
    NA_TRANSITIONS,
    channel_counts,
    make_rates,
)
from mfnpe.hh.membrane import make_exp_euler
from mfnpe.hh.model import NAMES
from mfnpe.hh.output import SimOutput
from mfnpe.hh.rest import resting_potential
from mfnpe.hh.stimulus import Stimulus

_jit = numba.njit(cache=True, nogil=True)

# ---------------------------------------------------------------------------------------
# Rates as scalar numba functions. ``make_rates(np, ...)`` would return 0-d arrays under
# numba (its np.where on scalars allocates one), so the formulas are compiled over a
# scalar namespace instead: a module object, whose attributes numba resolves at compile
# time, with a scalar ``where``.


@_jit
def _scalar_where(condition, if_true, if_false):
    return if_true if condition else if_false


_scalar_xp = types.ModuleType("mfnpe_hh_markov_scalar_xp")
_scalar_xp.abs = np.abs
_scalar_xp.exp = np.exp
_scalar_xp.expm1 = np.expm1
_scalar_xp.maximum = max
_scalar_xp.where = _scalar_where

_rates = make_rates(_scalar_xp, jit=_jit)
alpha_m = _rates.alpha_m
beta_m = _rates.beta_m
alpha_h = _rates.alpha_h
beta_h = _rates.beta_h
alpha_n = _rates.alpha_n
beta_n = _rates.beta_n

# ---------------------------------------------------------------------------------------
# State layout: one count vector of 13 states, Na states 0..7 (order NA_STATES), then K
# states 8..12 (order K_STATES). Every state has 2 or 3 outgoing transitions.

N_NA_STATES = len(NA_STATES)
N_STATES = N_NA_STATES + len(K_STATES)
OPEN_NA = NA_OPEN
OPEN_K = N_NA_STATES + K_OPEN
MAX_OUT = 3

MAX_EXITS_PER_STEP = 100.0
"""A step in which one channel would expect more than this many transitions (exit rate x
dt) marks the simulation as diverged: V is far outside the physiological range (below
about -185 mV at dt = 0.01 ms), and the exact simulation would practically never end. Both
methods apply it, so which simulations are valid does not depend on the method."""

MARKOV = 0
BINOMIAL = 1

_PARAMS = ("gNa", "gK", "gL", "ENa", "EK", "EL", "C")
"""Column order of the per-simulation constants handed to the kernel (then the stimulus's
current scale [µA/cm² per waveform unit] and V at rest [mV])."""


def _outgoing_tables():
    """Outgoing transitions per state of the 13-state layout.

    Returns
    -------
    n_out : (13,) int64 number of outgoing transitions.
    dest, rate_id : (13, 3) int64 destination state and rate id (order RATE_NAMES).
    mult : (13, 3) float64 rate multiplier; transition rate = mult * rates[rate_id].
    """
    n_out = np.zeros(N_STATES, dtype=np.int64)
    dest = np.zeros((N_STATES, MAX_OUT), dtype=np.int64)
    rate_id = np.zeros((N_STATES, MAX_OUT), dtype=np.int64)
    mult = np.zeros((N_STATES, MAX_OUT))
    for offset, table in ((0, NA_TRANSITIONS), (N_NA_STATES, K_TRANSITIONS)):
        for source, target, rid, multiplier in table:
            s = offset + source
            j = n_out[s]
            dest[s, j], rate_id[s, j], mult[s, j] = offset + target, rid, multiplier
            n_out[s] += 1
    return n_out, dest, rate_id, mult


_N_OUT, _DEST, _RATE_ID, _MULT = _outgoing_tables()  # numba freezes these as constants


def _nearest_first():
    """(13, 8) int64: per state, the destinations of its channel type (index within the
    type) ordered by the number of gate changes needed to reach them, itself first."""
    na = [(i, j) for j in (0, 1) for i in range(4)]  # index 4 j + i
    order = np.zeros((N_STATES, N_NA_STATES), dtype=np.int64)
    for s, (i, j) in enumerate(na):
        order[s] = sorted(range(N_NA_STATES), key=lambda d: abs(na[d][0] - i) + abs(na[d][1] - j))
    for i in range(N_STATES - N_NA_STATES):
        order[N_NA_STATES + i, :5] = sorted(range(5), key=lambda d: abs(d - i))
    return order


_NEAREST_FIRST = _nearest_first()


# ---------------------------------------------------------------------------------------
# Compiled building blocks (scalars in mV, ms, 1/ms, mS/cm², µA/cm², µF/cm²).


@_jit
def _rates_at(v, rates):
    """Fill ``rates`` (6,) [1/ms] with the six HH rates at ``v`` [mV] (order RATE_NAMES)."""
    rates[0] = alpha_m(v)
    rates[1] = beta_m(v)
    rates[2] = alpha_h(v)
    rates[3] = beta_h(v)
    rates[4] = alpha_n(v)
    rates[5] = beta_n(v)


@_jit
def _transition_rates(rates, q, exit_rate):
    """Fill ``q`` (13, 3) transition rates and ``exit_rate`` (13,) totals [1/ms] from ``rates``."""
    for s in range(N_STATES):
        total = 0.0
        for j in range(_N_OUT[s]):
            q[s, j] = _MULT[s, j] * rates[_RATE_ID[s, j]]
            total += q[s, j]
        exit_rate[s] = total


@_jit
def _rates_ok(exit_rate, dt):
    """True when every exit rate is finite and ``exit_rate * dt <= MAX_EXITS_PER_STEP``."""
    for s in range(N_STATES):
        if not exit_rate[s] * dt <= MAX_EXITS_PER_STEP:  # also False for NaN
            return False
    return True


@_jit
def _stationary_probs(rates, probs):
    """Fill ``probs`` (13,) with the stationary Na (8) and K (5) state probabilities.

    Same as ``kinetics.na_state_probs`` / ``k_state_probs``: binomial in the gates.
    """
    m = rates[0] / (rates[0] + rates[1])
    h = rates[2] / (rates[2] + rates[3])
    n = rates[4] / (rates[4] + rates[5])
    for i in range(4):
        p_m = _binom_pmf(3, i, m)
        probs[i] = p_m * (1.0 - h)  # m{i}h0
        probs[4 + i] = p_m * h  # m{i}h1
    for i in range(5):
        probs[N_NA_STATES + i] = _binom_pmf(4, i, n)


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
def _gillespie_step(counts, q, exit_rate, propensity, dt):
    """Advance ``counts`` (13,) exactly over ``dt`` [ms] at constant rates; return #events.

    ``propensity`` (13,) is workspace: exit rate x count per state, kept up to date
    incrementally, as is their sum.
    """
    total = 0.0  # 1/ms
    for s in range(N_STATES):
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
        while s < N_STATES - 1 and target >= propensity[s]:
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
        while j < _N_OUT[s] - 1 and x >= q[s, j]:
            x -= q[s, j]
            j += 1
        d = _DEST[s, j]
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
    for s in range(N_STATES - 1, -1, -1):
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
def _transition_probs(rates, dt, m_matrix, h_matrix, probs):
    """Fill ``probs`` (13, 8): row s holds P(state at the end of ``dt`` | s at its start).

    Na rows 0..7 over the 8 Na states (index 4 j + i), K rows 8..12 over the 5 K states
    (columns 0..4). ``m_matrix`` (5, 5) and ``h_matrix`` (2, 2) are workspace.
    """
    p_oo, p_co = _gate_probs(rates[0], rates[1], dt)
    _gate_count_matrix(3, p_oo, p_co, m_matrix)
    p_oo, p_co = _gate_probs(rates[2], rates[3], dt)
    _gate_count_matrix(1, p_oo, p_co, h_matrix)
    for j in range(2):
        for i in range(4):
            for j2 in range(2):
                for i2 in range(4):
                    probs[4 * j + i, 4 * j2 + i2] = m_matrix[i, i2] * h_matrix[j, j2]
    p_oo, p_co = _gate_probs(rates[4], rates[5], dt)
    _gate_count_matrix(4, p_oo, p_co, m_matrix)
    for i in range(5):
        for i2 in range(5):
            probs[N_NA_STATES + i, i2] = m_matrix[i, i2]


@_jit
def _binomial_step(counts, probs, arrived):
    """Move ``counts`` (13,) over one step: Multinomial(counts[s], probs[s]) per state s.

    ``probs`` from :func:`_transition_probs`; ``arrived`` (13,) is workspace: the counts at
    the end of the step. The multinomial is drawn as binomials over the destinations,
    nearest first (the likeliest), so it usually ends, nothing left to move, after 2–4.
    """
    arrived[:] = 0
    for s in range(N_STATES):
        first = 0 if s < N_NA_STATES else N_NA_STATES  # the block of s's channel type
        size = N_NA_STATES if s < N_NA_STATES else N_STATES - N_NA_STATES
        remaining = counts[s]
        mass = 1.0  # probability of the destinations not yet served
        for k in range(size - 1):
            if remaining == 0:
                break
            d = _NEAREST_FIRST[s, k]
            p = probs[s, d]
            moved = np.random.binomial(remaining, min(p / mass, 1.0)) if mass > p else remaining
            arrived[first + d] += moved
            remaining -= moved
            mass -= p
        arrived[first + _NEAREST_FIRST[s, size - 1]] += remaining
    for s in range(N_STATES):
        counts[s] = arrived[s]


_voltage_step = make_exp_euler(_scalar_xp, jit=_jit)  # the membrane's step, compiled


@_jit
def _fill_nan(start, record, v_out, na_out, k_out):
    """Mark a diverged simulation: NaN in its output rows from sample ``start`` on."""
    for k in range(start, v_out.shape[0]):
        v_out[k] = np.nan
        if record:
            na_out[k] = np.nan
            k_out[k] = np.nan


@_jit
def _channel_step(method, counts, rates, q, exit_rate, dt, ws):
    """Advance ``counts`` over one step with ``method``; return #transitions (markov only).

    ``ws``: the workspaces ``(propensity (13,), probs (13, 8), gates (2, 5, 5),
    arrived (13,))``.
    """
    propensity, probs, gates, arrived = ws
    if method == MARKOV:
        return _gillespie_step(counts, q, exit_rate, propensity, dt)
    _transition_probs(rates, dt, gates[0], gates[1], probs)
    _binomial_step(counts, probs, arrived)
    return 0


@_jit
def _simulate_one(
    method, params, n_na, n_k, waveform, dt, clamp, v_clamp, record, v_out, na_out, k_out, ws_rates,
    ws_q, ws_exit, ws_stationary, ws_counts, ws,
):
    """Simulate one neuron; write its rows ``v_out`` (T,) (and ``na_out, k_out`` if ``record``).

    ``params`` (9,): the constants in the order of ``_PARAMS``, the current scale, then V
    at rest [mV];
    ``ws_*``, ``ws`` are preallocated workspaces. Returns the number of channel transitions
    (``markov``; 0 for ``binomial``).
    """
    g_na, g_k, g_l, e_na, e_k, e_l, cap, scale, v_rest = params[:9]
    inv_na = 1.0 / n_na if n_na > 0 else 0.0
    inv_k = 1.0 / n_k if n_k > 0 else 0.0
    v = v_clamp if clamp else v_rest  # mV

    _rates_at(v, ws_rates)  # initial channel states: stationary multinomial at the start
    _transition_rates(ws_rates, ws_q, ws_exit)
    if not _rates_ok(ws_exit, dt):
        _fill_nan(0, record, v_out, na_out, k_out)
        return 0
    _stationary_probs(ws_rates, ws_stationary)
    _draw_multinomial(n_na, ws_stationary, 0, N_NA_STATES, ws_counts)
    _draw_multinomial(n_k, ws_stationary, N_NA_STATES, N_STATES, ws_counts)

    v_rates = v  # V at which ws_rates, ws_q, ws_exit were last computed (once under clamp)
    events = 0
    n_steps = v_out.shape[0]
    for k in range(n_steps):
        v_out[k] = v
        if record:
            na_out[k] = ws_counts[OPEN_NA] * inv_na
            k_out[k] = ws_counts[OPEN_K] * inv_k
        if k == n_steps - 1:
            break
        if v != v_rates:
            _rates_at(v, ws_rates)
            _transition_rates(ws_rates, ws_q, ws_exit)
            v_rates = v
            if not _rates_ok(ws_exit, dt):
                _fill_nan(k + 1, record, v_out, na_out, k_out)
                break
        # channels over [k dt, (k+1) dt] at fixed V, then V with the new open fractions
        events += _channel_step(method, ws_counts, ws_rates, ws_q, ws_exit, dt, ws)
        if not clamp:
            g_na_open = g_na * ws_counts[OPEN_NA] * inv_na  # mS/cm²
            g_k_open = g_k * ws_counts[OPEN_K] * inv_k
            current = scale * waveform[k]  # µA/cm²
            v = _voltage_step(v, g_na_open, g_k_open, g_l, e_na, e_k, e_l, current, cap, dt)
            if not np.isfinite(v):
                _fill_nan(k + 1, record, v_out, na_out, k_out)
                break
    return events


@_jit
def _simulate_batch(
    method, params, n_channels, seeds, waveform, dt, clamp, v_clamp, record, v_out, na_out,
    k_out, n_events,
):
    """Simulate ``n`` neurons one after another, reseeding before each.

    Parameters
    ----------
    method : MARKOV or BINOMIAL.
    params : (n, 9) float64 constants in the order of ``_PARAMS``, current scale, V at rest.
    n_channels : (n, 2) int64 Na and K channel numbers.
    seeds : (n,) uint32.
    waveform : (T,) float64 stimulus waveform (current = scale * waveform[k] in step k).
    dt : step [ms]. clamp, v_clamp : hold V at ``v_clamp`` [mV] if ``clamp``.
    record : write open fractions into ``na_out, k_out`` (n, T) float32.
    v_out : (n, T) float32 output. n_events : (n,) int64 output.
    """
    rates = np.empty(6)
    q = np.zeros((N_STATES, MAX_OUT))
    exit_rate = np.empty(N_STATES)
    stationary = np.empty(N_STATES)
    counts = np.empty(N_STATES, dtype=np.int64)
    ws = (np.empty(N_STATES), np.zeros((N_STATES, N_NA_STATES)), np.zeros((2, 5, 5)),
          np.empty(N_STATES, dtype=np.int64))
    for i in range(params.shape[0]):
        np.random.seed(seeds[i])
        row = i if record else 0  # open-fraction rows are a (1, T) dummy unless recorded
        n_events[i] = _simulate_one(
            method, params[i], n_channels[i, 0], n_channels[i, 1], waveform, dt, clamp, v_clamp,
            record, v_out[i], na_out[row], k_out[row], rates, q, exit_rate, stationary, counts,
            ws,
        )


# ---------------------------------------------------------------------------------------
# Python entry points.


def _kernel_inputs(constants: Mapping[str, np.ndarray], stimulus, seeds) -> tuple:
    """Validated ``(params, n_channels, seeds)`` for the kernel.

    ``params`` (n, 9) float64: the ``_PARAMS`` columns, the stimulus's current scale,
    then V at rest [mV];
    ``n_channels`` (n, 2) int64 (Na, K); ``seeds`` (n,) uint32.
    """
    missing = [name for name in NAMES if name not in constants]
    if missing:
        raise ValueError(f"constants lack {missing}; every name of {list(NAMES)} is needed")
    seeds = np.asarray(seeds)
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be a 1-d integer array, got {seeds.dtype} {seeds.shape}")
    if seeds.size and (seeds.min() < 0 or seeds.max() > np.iinfo(np.uint32).max):
        raise ValueError("seeds must lie in the uint32 range")
    n = seeds.shape[0]
    columns = [np.asarray(constants[name], dtype=np.float64) for name in (*_PARAMS, "area")]
    for name, column in zip((*_PARAMS, "area"), columns):
        if column.shape != (n,):
            raise ValueError(f"constants[{name!r}] has shape {column.shape}, expected ({n},)")
    scale = np.broadcast_to(stimulus.current_scale(constants), (n,))  # µA/cm² per waveform unit
    params = np.ascontiguousarray(
        np.stack([*columns[:-1], scale, resting_potential(constants)], axis=1))
    n_na, n_k = channel_counts(constants["gNa"], constants["gK"], constants["area"])
    if (n_na < 0).any() or (n_k < 0).any():
        raise ValueError("gNa, gK and area must give non-negative channel numbers")
    n_channels = np.ascontiguousarray(np.stack([n_na, n_k], axis=1), dtype=np.int64)
    return params, n_channels, seeds.astype(np.uint32)


def _simulate(method, constants, stimulus: Stimulus, dt, seeds, clamp_mV, record_open):
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    params, n_channels, seeds = _kernel_inputs(constants, stimulus, seeds)
    waveform = np.ascontiguousarray(stimulus.waveform(dt), dtype=np.float64)
    n, n_steps = params.shape[0], waveform.shape[0]
    v = np.empty((n, n_steps), dtype=np.float32)
    shape_open = (n, n_steps) if record_open else (1, n_steps)
    open_na = np.zeros(shape_open, dtype=np.float32)
    open_k = np.zeros(shape_open, dtype=np.float32)
    n_events = np.zeros(n, dtype=np.int64)
    clamp = clamp_mV is not None
    _simulate_batch(
        method, params, n_channels, seeds, waveform, float(dt), clamp,
        float(clamp_mV) if clamp else 0.0, bool(record_open), v, open_na, open_k, n_events,
    )
    return SimOutput(
        v=v,
        dt=dt,
        open_na=open_na if record_open else None,
        open_k=open_k if record_open else None,
        n_events=n_events if method == MARKOV else None,
    )


def simulate_markov(constants, stimulus, dt, seeds, *, clamp_mV=None, record_open=False):
    """Exact hybrid simulation: Gillespie channel transitions, exponential-Euler voltage.

    Parameters
    ----------
    constants : {name: (n,) float64} every name of ``mfnpe.hh.model.NAMES``.
    stimulus : a stimulus (:mod:`mfnpe.hh.stimulus`); current in step k of simulation i is
        ``current_scale[i] * waveform[k]`` [µA/cm²].
    dt : integration step and sampling interval [ms].
    seeds : (n,) uint32, one per simulation.
    clamp_mV : hold V at this value [mV] for the whole trace (channels start in the
        stationary distribution there); else V starts at rest (:mod:`mfnpe.hh.rest`).
    record_open : also return the open fractions (Na ``m3h1``, K ``n4``).

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
