"""Low-fidelity HH simulators in JAX: deterministic, current noise, subunit and edge Langevin.

All four share one time loop (:func:`_simulate`): per-simulation constants are ``(n,)``
arrays, the state is advanced for all ``n`` simulations at once by ``lax.scan`` over time
steps, and the whole trace is compiled once per ``(n, T)`` and model (DESIGN.md §1.2).

Time stepping (step ``k`` covers ``[k dt, (k+1) dt)``, current ``I_k = amplitude · mask[k]``):

- channels first, at the voltage ``V_k`` held over the step; then
- V by exponential Euler with the conductances frozen at the *new* open fractions:
  ``V_{k+1} = V_inf + (V_k − V_inf) exp(−dt g_tot / C)`` (plus ``σ/C · √dt · ξ`` for
  current noise).

Channel models (open fractions ``f_Na``, ``f_K`` scale ``ḡNa``, ``ḡK``):

- ``deterministic`` / ``current_noise``: HH gates ``m, h, n`` by exponential Euler,
  ``f_Na = m³h``, ``f_K = n⁴``.
- ``subunit_langevin`` (Fox 1997): the same gates plus Euler–Maruyama noise
  ``√((α(1−x) + βx) dt / N) ξ`` with ``N = N_Na`` for ``m, h`` and ``N_K`` for ``n``;
  gates clipped to ``[0, 1]``.
- ``edge_langevin`` (Orio & Soudry 2012): fractions of the 8 Na / 5 K Markov states,
  Euler–Maruyama on the master equation with one noise source per reversible transition
  pair ``i ⇌ j``: ``√(max(0, k_ij x_i + k_ji x_j) dt / N) ξ_ij`` added to ``x_j`` and
  subtracted from ``x_i``. After each step negative fractions are set to 0 and the
  fractions renormalised to sum to 1 (:func:`_to_simplex`); this biases the mean only where
  the expected number of channels in a state is of order one.

Initial state: V = V0 and every channel model at its deterministic steady state at V0
(gate values ``x_inf``, state fractions the binomial stationary distribution). Under a
voltage clamp V is held at ``clamp_mV`` for the whole trace (``v[:, 0]`` included) and the
channels start at their steady state at ``clamp_mV``.

Randomness: simulation ``i`` gets ``key_i = jax.random.key(seeds[i])``; the normals of
time chunk ``c`` (``NOISE_CHUNK`` steps) are ``normal(fold_in(key_i, c), (NOISE_CHUNK, d))``.
So a simulation's trace depends only on its own constants and seed (not on the batch, its
position in it, nor the number of threads), and a shorter trace is a prefix of a longer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mfnpe.hh.kinetics import (
    K_OPEN,
    K_TRANSITIONS,
    NA_OPEN,
    NA_TRANSITIONS,
    RATE_NAMES,
    channel_counts,
    make_rates,
)
from mfnpe.hh.model import NAMES
from mfnpe.hh.output import SimOutput
from mfnpe.hh.stimulus import Stimulus

NOISE_CHUNK = 100
"""Time steps whose normals are drawn with one key (fold_in by chunk index)."""
_UNROLL = 4
"""Time steps per iteration of the compiled inner loop (fewer loop overheads)."""

MODELS = ("deterministic", "current_noise", "subunit_langevin", "edge_langevin")

_rates = make_rates(jnp)


class Rates(NamedTuple):
    """The six HH rates [1/ms], each (n,), at the voltage of the current step."""

    alpha_m: jax.Array
    beta_m: jax.Array
    alpha_h: jax.Array
    beta_h: jax.Array
    alpha_n: jax.Array
    beta_n: jax.Array


def gate_rates(v: jax.Array) -> Rates:
    """All six HH rates [1/ms] at ``v`` (n,) [mV]."""
    return Rates(*(getattr(_rates, name)(v) for name in RATE_NAMES))


# ----------------------------------------------------------------------------- helpers


def _clip_fraction(x: jax.Array) -> jax.Array:
    """The one place fractions are kept physical: clip to ``[0, 1]``."""
    return jnp.clip(x, 0.0, 1.0)


def _to_simplex(states: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
    """Clip state fractions to ``[0, 1]`` and renormalise them to sum to one."""
    clipped = tuple(_clip_fraction(x) for x in states)
    total = sum(clipped)
    return tuple(x / total for x in clipped)


def _noise_sd(propensity: jax.Array, n_channels: jax.Array, dt: float) -> jax.Array:
    """SD of a Langevin increment: ``√(max(0, propensity) · dt / N)`` (propensity in 1/ms)."""
    return jnp.sqrt(jnp.maximum(propensity, 0.0) * dt / n_channels)


# ----------------------------------------------------------------------------- membrane


class Membrane(NamedTuple):
    """Per-simulation constants, each (n,) float32 (units as in :mod:`mfnpe.hh.model`)."""

    gNa: jax.Array  # mS/cm²
    gK: jax.Array  # mS/cm²
    gL: jax.Array  # mS/cm²
    ENa: jax.Array  # mV
    EK: jax.Array  # mV
    EL: jax.Array  # mV
    C: jax.Array  # µF/cm²
    V0: jax.Array  # mV
    amplitude: jax.Array  # µA/cm²
    n_na: jax.Array  # Na channels, ≥ 1 (noise scale only)
    n_k: jax.Array  # K channels, ≥ 1 (noise scale only)


def voltage_step(v, f_na, f_k, current, mem: Membrane, dt):
    """Exponential Euler step of V [mV] with conductances frozen over ``dt`` [ms].

    ``f_na, f_k`` are open fractions, ``current`` the injected current [µA/cm²]; all (n,).
    """
    g_na = mem.gNa * f_na  # mS/cm²
    g_k = mem.gK * f_k  # mS/cm²
    g_tot = g_na + g_k + mem.gL  # mS/cm²
    v_inf = (current + g_na * mem.ENa + g_k * mem.EK + mem.gL * mem.EL) / g_tot  # mV
    return v_inf + (v - v_inf) * jnp.exp(-dt * g_tot / mem.C)  # g/C in 1/ms


# ----------------------------------------------------------------------------- HH gates


class Gates(NamedTuple):
    """HH gate variables m, h, n, each (n,) in [0, 1]."""

    m: jax.Array
    h: jax.Array
    n: jax.Array


def gates_steady(v: jax.Array) -> Gates:
    """Steady-state gates ``x_inf = α / (α + β)`` at ``v`` (n,) [mV]."""
    r = gate_rates(v)
    return Gates(
        r.alpha_m / (r.alpha_m + r.beta_m),
        r.alpha_h / (r.alpha_h + r.beta_h),
        r.alpha_n / (r.alpha_n + r.beta_n),
    )


def gate_relax(x, alpha, beta, dt):
    """Exponential Euler of ``dx/dt = α(1−x) − βx`` over ``dt`` [ms] (exact for fixed V)."""
    rate = alpha + beta  # 1/ms
    x_inf = alpha / rate
    return x_inf + (x - x_inf) * jnp.exp(-dt * rate)


def gates_step(gates: Gates, v, noise, mem: Membrane, dt) -> Gates:
    """Deterministic gate update at ``v`` (n,) [mV]; ``noise`` is unused."""
    r = gate_rates(v)
    return Gates(
        gate_relax(gates.m, r.alpha_m, r.beta_m, dt),
        gate_relax(gates.h, r.alpha_h, r.beta_h, dt),
        gate_relax(gates.n, r.alpha_n, r.beta_n, dt),
    )


def subunit_step(gates: Gates, v, noise, mem: Membrane, dt) -> Gates:
    """Fox (1997) subunit Langevin gate update; ``noise`` (3, n) standard normals."""
    r = gate_rates(v)
    out = []
    for x, alpha, beta, n_channels, xi in (
        (gates.m, r.alpha_m, r.beta_m, mem.n_na, noise[0]),
        (gates.h, r.alpha_h, r.beta_h, mem.n_na, noise[1]),
        (gates.n, r.alpha_n, r.beta_n, mem.n_k, noise[2]),
    ):
        sd = _noise_sd(alpha * (1.0 - x) + beta * x, n_channels, dt)
        out.append(_clip_fraction(gate_relax(x, alpha, beta, dt) + sd * xi))
    return Gates(*out)


def gates_open(gates: Gates):
    """Open fractions ``(m³h, n⁴)``."""
    return gates.m**3 * gates.h, gates.n**4


# ----------------------------------------------------------------------------- Markov states


def _reversible_pairs(transitions: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Rows ``(i, j, rate_ij, mult_ij, rate_ji, mult_ji)`` of each reversible pair ``i < j``."""
    lookup = {(int(a), int(b)): (int(r), int(k)) for a, b, r, k in transitions}
    pairs = []
    for (i, j), (rate_ij, mult_ij) in lookup.items():
        if i < j:
            rate_ji, mult_ji = lookup[(j, i)]
            pairs.append((i, j, rate_ij, mult_ij, rate_ji, mult_ji))
    return tuple(pairs)


NA_PAIRS = _reversible_pairs(NA_TRANSITIONS)
"""The 10 reversible Na transition pairs (i, j, rate_ij, mult_ij, rate_ji, mult_ji)."""
K_PAIRS = _reversible_pairs(K_TRANSITIONS)
"""The 4 reversible K transition pairs."""


class States(NamedTuple):
    """Markov state fractions: ``na`` 8 and ``k`` 5 arrays of shape (n,), each summing to 1."""

    na: tuple[jax.Array, ...]
    k: tuple[jax.Array, ...]


def _binomial(p, n_gates):
    """Binomial(n_gates, p) probabilities of 0..n_gates open gates, each (n,)."""
    from math import comb

    return [comb(n_gates, i) * p**i * (1.0 - p) ** (n_gates - i) for i in range(n_gates + 1)]


def states_steady(v: jax.Array) -> States:
    """Stationary state fractions at ``v`` (n,) [mV] (order of ``NA_STATES``, ``K_STATES``)."""
    m, h, n = gates_steady(v)
    m_states = _binomial(m, 3)
    na = tuple(pm * ph for ph in (1.0 - h, h) for pm in m_states)  # index j*4 + i
    return States(na, tuple(_binomial(n, 4)))


def _edge_update(x, pairs, rates: Rates, n_channels, noise, dt):
    """Euler–Maruyama master-equation step of fractions ``x`` with one noise per pair."""
    dx = [jnp.zeros_like(x[0]) for _ in x]
    for p, (i, j, rate_ij, mult_ij, rate_ji, mult_ji) in enumerate(pairs):
        flux_ij = mult_ij * rates[rate_ij] * x[i]  # 1/ms
        flux_ji = mult_ji * rates[rate_ji] * x[j]  # 1/ms
        change = (flux_ij - flux_ji) * dt + _noise_sd(flux_ij + flux_ji, n_channels, dt) * noise[p]
        dx[i] = dx[i] - change
        dx[j] = dx[j] + change
    return _to_simplex(tuple(xs + d for xs, d in zip(x, dx)))


def edge_step(states: States, v, noise, mem: Membrane, dt) -> States:
    """Orio & Soudry (2012) edge Langevin update; ``noise`` (14, n): 10 Na then 4 K pairs."""
    r = gate_rates(v)
    n_na = len(NA_PAIRS)
    return States(
        _edge_update(states.na, NA_PAIRS, r, mem.n_na, noise[:n_na], dt),
        _edge_update(states.k, K_PAIRS, r, mem.n_k, noise[n_na:], dt),
    )


def states_open(states: States):
    """Open fractions ``(x_m3h1, x_n4)``."""
    return states.na[NA_OPEN], states.k[K_OPEN]


# ----------------------------------------------------------------------------- models


class _Model(NamedTuple):
    init: callable  # v (n,) [mV] -> channel state
    step: callable  # (state, v, noise (d, n), Membrane, dt) -> state
    open: callable  # state -> (f_na, f_k)
    n_channel_noise: int  # normals per step for the channels
    voltage_noise: bool  # one more normal per step for the membrane current


_MODELS = {
    "deterministic": _Model(gates_steady, gates_step, gates_open, 0, False),
    "current_noise": _Model(gates_steady, gates_step, gates_open, 0, True),
    "subunit_langevin": _Model(gates_steady, subunit_step, gates_open, 3, False),
    "edge_langevin": _Model(
        states_steady, edge_step, states_open, len(NA_PAIRS) + len(K_PAIRS), False
    ),
}


def _chunk_normals(keys, chunk, n_noise):
    """(NOISE_CHUNK, n_noise, n) float32 normals of time chunk ``chunk`` for every key."""
    draw = lambda key: jax.random.normal(  # noqa: E731
        jax.random.fold_in(key, chunk), (NOISE_CHUNK, n_noise), dtype=jnp.float32
    )
    return jnp.transpose(jax.vmap(draw)(keys), (1, 2, 0))


@partial(jax.jit, static_argnames=("model", "n_chunks", "clamped", "record_open"))
def _simulate(mem, mask, seeds, dt, sigma, clamp_mV, *, model, n_chunks, clamped, record_open):
    """Compiled time loop; returns ``(v, open_na, open_k)``, each (n, n_chunks·NOISE_CHUNK)."""
    spec = _MODELS[model]
    n_noise = spec.n_channel_noise + int(spec.voltage_noise)
    keys = jax.vmap(jax.random.key)(seeds)
    v0 = jnp.broadcast_to(clamp_mV, mem.V0.shape) if clamped else mem.V0  # mV
    v_noise_sd = sigma / mem.C * jnp.sqrt(dt)  # mV per step (σ in µA/cm²·ms^½)

    def step(carry, inputs):
        v, channels = carry
        on, noise = inputs
        channels_next = spec.step(channels, v, noise[: spec.n_channel_noise], mem, dt)
        f_na, f_k = spec.open(channels)
        if clamped:
            v_next = v
        else:
            f_na_next, f_k_next = spec.open(channels_next)
            v_next = voltage_step(v, f_na_next, f_k_next, mem.amplitude * on, mem, dt)
            if spec.voltage_noise:
                v_next = v_next + v_noise_sd * noise[-1]
        record = (v, f_na, f_k) if record_open else (v,)
        return (v_next, channels_next), record

    def chunk(carry, inputs):
        index, mask_chunk = inputs
        if n_noise:
            noise = _chunk_normals(keys, index, n_noise)
        else:
            noise = jnp.zeros((NOISE_CHUNK, 0) + v0.shape, jnp.float32)
        return jax.lax.scan(step, carry, (mask_chunk, noise), unroll=_UNROLL)

    carry = (v0, spec.init(v0))
    chunks = (jnp.arange(n_chunks, dtype=jnp.uint32), mask.reshape(n_chunks, NOISE_CHUNK))
    _, records = jax.lax.scan(chunk, carry, chunks)
    # (n_chunks, NOISE_CHUNK, n) -> (n, T_padded)
    return tuple(r.reshape(-1, r.shape[-1]).T for r in records)


# ----------------------------------------------------------------------------- public API


def _membrane(constants: Mapping[str, np.ndarray]) -> Membrane:
    """Validate the constants table and convert it to float32 device arrays."""
    missing = [name for name in NAMES if name not in constants]
    if missing:
        raise ValueError(f"constants lack {missing}; every name of {list(NAMES)} is needed")
    arrays = {name: np.atleast_1d(np.asarray(constants[name], dtype=np.float64)) for name in NAMES}
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) != 1 or arrays["gNa"].ndim != 1:
        raise ValueError(f"constants must all have the same shape (n,), got {shapes}")
    n_na, n_k = channel_counts(arrays["gNa"], arrays["gK"], arrays["area"])
    f32 = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    return Membrane(
        **{name: f32(arrays[name]) for name in Membrane._fields if name in arrays},
        n_na=f32(np.maximum(n_na, 1)),
        n_k=f32(np.maximum(n_k, 1)),
    )


def _run(model, constants, stimulus: Stimulus, dt, seeds, sigma=0.0, clamp_mV=None,
         record_open=False) -> SimOutput:
    mem = _membrane(constants)
    n = mem.gNa.shape[0]
    seeds = np.asarray(seeds)
    if seeds.shape != (n,):
        raise ValueError(f"seeds must have shape ({n},) like the constants, got {seeds.shape}")
    if np.any(seeds < 0) or np.any(seeds > np.iinfo(np.uint32).max):
        raise ValueError("seeds must be uint32 values")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    mask = stimulus.step_mask(dt)
    n_steps = mask.shape[0]
    n_chunks = max(-(-n_steps // NOISE_CHUNK), 1)
    mask = np.pad(mask, (0, n_chunks * NOISE_CHUNK - n_steps)).astype(np.float32)
    records = _simulate(
        mem,
        jnp.asarray(mask),
        jnp.asarray(seeds, dtype=jnp.uint32),
        jnp.float32(dt),
        jnp.asarray(sigma, dtype=jnp.float32),
        jnp.float32(0.0 if clamp_mV is None else clamp_mV),
        model=model,
        n_chunks=n_chunks,
        clamped=clamp_mV is not None,
        record_open=record_open,
    )
    v, *opens = (np.asarray(r[:, :n_steps]) for r in records)
    open_na, open_k = opens if record_open else (None, None)
    return SimOutput(v=v, dt=dt, open_na=open_na, open_k=open_k)


_ARGS_DOC = """
    Parameters
    ----------
    constants : {name: (n,) float64} for every name of :data:`mfnpe.hh.model.NAMES`.
    stimulus : the current step protocol; the trace has ``T = stimulus.n_steps(dt)`` samples.
    dt : integration step = sampling interval [ms].
    seeds : (n,) uint32, one per simulation; simulation i depends only on ``seeds[i]``.
    clamp_mV : hold V at this potential [mV] for the whole trace (voltage clamp).
    record_open : also return the open fractions ``open_na`` (m3h1) and ``open_k`` (n4).

    Returns
    -------
    SimOutput with ``v`` (n, T) float32 [mV] (and ``open_na, open_k`` (n, T) float32).
"""


def simulate_deterministic(constants, stimulus, dt, seeds, *, clamp_mV=None, record_open=False):
    return _run("deterministic", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


def simulate_current_noise(constants, stimulus, dt, seeds, *, sigma, clamp_mV=None,
                           record_open=False):
    return _run("current_noise", constants, stimulus, dt, seeds, sigma=sigma,
                clamp_mV=clamp_mV, record_open=record_open)


def simulate_subunit_langevin(constants, stimulus, dt, seeds, *, clamp_mV=None,
                              record_open=False):
    return _run("subunit_langevin", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


def simulate_edge_langevin(constants, stimulus, dt, seeds, *, clamp_mV=None, record_open=False):
    return _run("edge_langevin", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


simulate_deterministic.__doc__ = "The deterministic HH ODE (gates and V by exponential Euler).\n" + _ARGS_DOC
simulate_current_noise.__doc__ = (
    "Deterministic HH plus white current noise ``C dV = (...) dt + σ dW``.\n"
    + _ARGS_DOC.replace(
        "    clamp_mV",
        "    sigma : noise amplitude [µA/cm²·ms^½], scalar or (n,).\n    clamp_mV",
    )
)
simulate_subunit_langevin.__doc__ = "Fox (1997) subunit Langevin HH (gate noise).\n" + _ARGS_DOC
simulate_edge_langevin.__doc__ = (
    "Orio & Soudry (2012) edge Langevin HH (one noise per reversible transition).\n" + _ARGS_DOC
)

SIMULATORS = {
    "deterministic": simulate_deterministic,
    "current_noise": simulate_current_noise,
    "subunit_langevin": simulate_subunit_langevin,
    "edge_langevin": simulate_edge_langevin,
}
"""Model name (config value) -> simulator function."""
