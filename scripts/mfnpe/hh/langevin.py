"""Low-fidelity HH simulators in JAX: deterministic, current noise, subunit and edge Langevin.

All four share one compiled time loop (:func:`_simulate`): per-simulation constants are
``(n,)`` arrays, all ``n`` simulations advance together by ``lax.scan`` over time steps,
and a trace is compiled once per model and shape ``(n, T)`` (docs/method.md, "Fidelities").

Step ``k`` covers ``[k dt, (k+1) dt)`` with current ``I_k = amplitude · mask[k]``:

1. the channels advance with V held at ``V_k``;
2. V advances by exponential Euler with the conductances frozen at the new open fractions,
   ``V_{k+1} = V_inf + (V_k − V_inf) e^(−dt g_tot / C)``.

Channel models (open fractions ``f_Na``, ``f_K`` scale ``ḡNa``, ``ḡK``):

- ``deterministic``: HH gates ``m, h, n`` by exponential Euler (exact for V fixed over the
  step); ``f_Na = m³h``, ``f_K = n⁴``.
- ``current_noise``: the same plus white current noise, ``C dV = (…) dt + σ dW``.
- ``subunit_langevin`` (Fox 1997): the gates plus noise of diffusion ``(α(1−x) + βx) / N``,
  ``N = N_Na`` for ``m, h`` and ``N_K`` for ``n``; gates clipped to ``[0, 1]``.
- ``edge_langevin`` (Orio & Soudry 2012): fractions ``x`` of the 8 Na / 5 K Markov states;
  the master-equation drift plus one noise source per reversible pair ``i ⇌ j`` that moves
  ``√(max(0, k_ij x_i + k_ji x_j) dt / N) ξ_ij`` from ``x_i`` to ``x_j``. After each step
  negative fractions are set to 0 and the fractions renormalised to sum to 1
  (:func:`_to_simplex`); this biases the mean up only where the expected number of
  channels in a state is of order one or less.

Integrators (all first order in the V coupling, as the exponential Euler of V):

- a single noisy variable (V in ``current_noise``, each gate in ``subunit_langevin``)
  relaxes exactly over the step and gets the exact Ornstein–Uhlenbeck noise variance
  ``D (1 − e^(−2 k dt)) / (2 k)`` for its frozen relaxation rate ``k`` (:func:`_ou_time`);
- ``edge_langevin`` splits the step (Strang): exact master-equation drift over ``dt/2``
  (:func:`markov_drift`, which equals the deterministic gate update on binomial fractions),
  the noise kick, drift over ``dt/2``. Euler–Maruyama instead shifts spike times by
  ~0.7 ms over 120 ms at dt 0.025 (large area) and inflates the Na open-fraction variance
  by ~30% at −65 mV; this scheme keeps both within ~2%.

Channel numbers ``N = round(ḡ/2 · area)`` (:func:`mfnpe.hh.kinetics.channel_counts`) set
only the noise; ``N = 0`` is treated as 1.

Initial state: ``V = V0``, the channels at their deterministic steady state at ``V0``
(gates ``x_inf``, state fractions the binomial stationary distribution; not drawn). Under a
voltage clamp V is ``clamp_mV`` for the whole trace (``v[:, 0]`` included), the channels
start at their steady state at ``clamp_mV`` and there is no current noise.

Randomness: normal ``j`` of step ``k`` of the simulation with seed ``s`` is a pure function
of ``(s, k, j)`` (:func:`chunk_normals`, counter-based Threefry), and batches are padded to
:data:`BATCH_BLOCK`. So a trace depends only on its own constants and seed — not on the
batch, its position in it, nor the thread that runs it — bit for bit.

Threads: XLA:CPU releases the GIL while it runs, so batches submitted from several Python
threads run in parallel on XLA's thread pool; one CPU device is enough. XLA flags do not
cap that pool: :func:`mfnpe.runtime.start_jax` sizes it to the job's threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from math import comb
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

NOISE_CHUNK = 50
"""Time steps whose normals are drawn together as one array (speed only, not the values)."""

BATCH_BLOCK = 32
"""Batches are padded to a multiple of this many simulations, so every simulation runs in
XLA's vectorised code path and its rounding does not depend on the batch size."""

_rates = make_rates(jnp)


# ----------------------------------------------------------------------------- helpers


def _clip_fraction(x: jax.Array) -> jax.Array:
    """The one place fractions are kept physical: clip to ``[0, 1]``."""
    return jnp.clip(x, 0.0, 1.0)


def _ou_time(rate, decay):
    """``(1 − decay²) / (2 rate)`` [ms], ``decay = exp(−rate · dt)``, ``rate`` [1/ms].

    The variance a unit white noise adds over one step ``dt`` to a process relaxing at
    ``rate`` (the exact Ornstein–Uhlenbeck step; ``≈ dt`` for ``rate · dt ≪ 1``). The floor
    on ``rate`` only keeps a zero-conductance membrane finite. (No ``where``: XLA:CPU does
    not vectorise it here, which halves the speed of the whole step.)
    """
    return (1.0 - decay * decay) / (2.0 * jnp.maximum(rate, 1e-9))


def _noise_sd(propensity, inv_n, dt):
    """SD ``√(max(0, propensity) · dt / N)`` of a Langevin increment; propensity in 1/ms."""
    return jnp.sqrt(jnp.maximum(propensity, 0.0) * (dt * inv_n))


class Membrane(NamedTuple):
    """Per-simulation constants, each (n,) float32."""

    gNa: jax.Array  # mS/cm²
    gK: jax.Array  # mS/cm²
    gL: jax.Array  # mS/cm²
    ENa: jax.Array  # mV
    EK: jax.Array  # mV
    EL: jax.Array  # mV
    C: jax.Array  # µF/cm²
    V0: jax.Array  # mV
    amplitude: jax.Array  # µA/cm²
    inv_n_na: jax.Array  # 1 / N_Na
    inv_n_k: jax.Array  # 1 / N_K


def voltage_step(v, f_na, f_k, current, mem: Membrane, dt, noise=None):
    """Exponential Euler step of V [mV] over ``dt`` [ms] with conductances frozen.

    ``f_na, f_k``: open fractions, ``current``: injected current [µA/cm²]; all (n,).
    ``noise``: ``σ ξ`` [µA/cm²·ms^½], a white current integrated exactly over the step (the
    Ornstein–Uhlenbeck variance of the membrane with these conductances), or None.
    """
    g_na = mem.gNa * f_na  # mS/cm²
    g_k = mem.gK * f_k  # mS/cm²
    g_tot = g_na + g_k + mem.gL  # mS/cm²
    v_inf = (current + g_na * mem.ENa + g_k * mem.EK + mem.gL * mem.EL) / g_tot  # mV
    rate = g_tot / mem.C  # 1/ms
    decay = jnp.exp(-dt * rate)
    v_next = v_inf + (v - v_inf) * decay
    if noise is None:
        return v_next
    return v_next + noise / mem.C * jnp.sqrt(_ou_time(rate, decay))  # mV


# ----------------------------------------------------------------------------- HH gates


class Rates(NamedTuple):
    """The six HH rates [1/ms], each (n,), order of :data:`RATE_NAMES`."""

    alpha_m: jax.Array
    beta_m: jax.Array
    alpha_h: jax.Array
    beta_h: jax.Array
    alpha_n: jax.Array
    beta_n: jax.Array


def gate_rates(v: jax.Array) -> Rates:
    """All six HH rates [1/ms] at ``v`` (n,) [mV]."""
    return Rates(*(getattr(_rates, name)(v) for name in RATE_NAMES))


class Gates(NamedTuple):
    """HH gate variables, each (n,) in [0, 1]."""

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
    """Exponential Euler of ``dx/dt = α(1−x) − βx`` over ``dt`` [ms] (exact at fixed V).

    Returns ``(x_next, rate, decay)``: the relaxation rate ``α + β`` [1/ms] and
    ``decay = exp(−rate · dt)``, for the noise.
    """
    rate = alpha + beta  # 1/ms
    x_inf = alpha / rate
    decay = jnp.exp(-dt * rate)
    return x_inf + (x - x_inf) * decay, rate, decay


def gates_step(gates: Gates, v, noise, mem: Membrane, dt) -> Gates:
    """Deterministic gate update at ``v`` (n,) [mV]; ``noise`` is ignored."""
    r = gate_rates(v)
    return Gates(
        gate_relax(gates.m, r.alpha_m, r.beta_m, dt)[0],
        gate_relax(gates.h, r.alpha_h, r.beta_h, dt)[0],
        gate_relax(gates.n, r.alpha_n, r.beta_n, dt)[0],
    )


def subunit_step(gates: Gates, v, noise, mem: Membrane, dt) -> Gates:
    """Fox (1997) subunit Langevin update at ``v`` (n,) [mV]; ``noise`` (3, n) for m, h, n."""
    r = gate_rates(v)
    updated = []
    for x, alpha, beta, inv_n, xi in (
        (gates.m, r.alpha_m, r.beta_m, mem.inv_n_na, noise[0]),
        (gates.h, r.alpha_h, r.beta_h, mem.inv_n_na, noise[1]),
        (gates.n, r.alpha_n, r.beta_n, mem.inv_n_k, noise[2]),
    ):
        relaxed, rate, decay = gate_relax(x, alpha, beta, dt)
        sd = _noise_sd(alpha * (1.0 - x) + beta * x, inv_n, _ou_time(rate, decay))
        updated.append(_clip_fraction(relaxed + sd * xi))
    return Gates(*updated)


def gates_open(gates: Gates):
    """Open fractions ``(m³h, n⁴)``, each (n,)."""
    return gates.m**3 * gates.h, gates.n**4


# ----------------------------------------------------------------------------- Markov states


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


def _to_simplex(x: jax.Array) -> jax.Array:
    """State fractions ``x`` (states, n) clipped to [0, 1] and renormalised per column."""
    clipped = _clip_fraction(x)
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
    moved = _noise_sd(flux_fwd + flux_bwd, inv_n, dt) * noise  # (P, n)
    return jnp.asarray(scheme.stoich) @ moved  # per-column order fixed, as in _to_simplex


def edge_step(states: States, v, noise, mem: Membrane, dt) -> States:
    """Orio & Soudry (2012) edge Langevin update; ``noise`` (14, n): 10 Na then 4 K pairs."""
    r = gate_rates(v)
    rates = jnp.stack(r)  # (6, n), 1/ms
    n_na = len(NA_SCHEME.source)
    half = markov_drift(states, r, 0.5 * dt)
    kicked = States(
        half.na + edge_noise(half.na, NA_SCHEME, rates, mem.inv_n_na, noise[:n_na], dt),
        half.k + edge_noise(half.k, K_SCHEME, rates, mem.inv_n_k, noise[n_na:], dt),
    )
    drift = markov_drift(kicked, r, 0.5 * dt)
    return States(_to_simplex(drift.na), _to_simplex(drift.k))


def states_open(states: States):
    """Open fractions ``(x_m3h1, x_n4)``, each (n,)."""
    return states.na[NA_OPEN], states.k[K_OPEN]


# ----------------------------------------------------------------------------- noise

_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry_2x32(k0, k1, x0, x1):
    """Threefry-2x32, 20 rounds (Salmon et al. 2011), the generator of ``jax.random``.

    Key ``(k0, k1)``, counter ``(x0, x1)``: uint32 arrays (broadcast); returns two uint32
    words. Written out because ``jax.random`` lowers it as a rolled loop on CPU (~10x slower).
    """
    rotl = lambda x, r: (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))  # noqa: E731
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for block in range(5):
        for r in _THREEFRY_ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + jnp.uint32(block + 1)
    return x0, x1


def _uniform_symmetric(bits):
    """uint32 -> float32 uniform on (-1, 1): the 2^24 odd multiples of 2^-24, never ±1."""
    odd = ((bits >> 8) * jnp.uint32(2) + jnp.uint32(1)).astype(jnp.int32) - (1 << 24)
    return odd.astype(jnp.float32) * 2.0**-24  # exact: |odd| < 2^24


def chunk_normals(seeds, first_step, n_steps: int, n_normals: int):
    """(n_steps, n_normals, n) standard normals of steps ``first_step + [0, n_steps)``.

    Normal ``j`` of step ``k`` of the simulation with seed ``s`` is ``√2 erfinv(u)`` (as in
    ``jax.random.normal``) of the first word of ``threefry_2x32(key=(0, s), counter=(k, j))``,
    a pure function of ``(s, k, j)``. (Using both words needs an interleave that XLA:CPU
    does not vectorise: 7x slower.)
    """
    steps = first_step + jnp.arange(n_steps, dtype=jnp.uint32)[:, None, None]
    sources = jnp.arange(n_normals, dtype=jnp.uint32)[None, :, None]
    bits, _ = threefry_2x32(jnp.uint32(0), seeds[None, None, :], steps, sources)
    return np.sqrt(2.0) * jax.lax.erf_inv(_uniform_symmetric(bits))


# ----------------------------------------------------------------------------- time loop


class _Model(NamedTuple):
    init: Callable  # v (n,) [mV] -> channel state
    step: Callable  # (state, v, noise (n_channel_noise, n), Membrane, dt) -> state
    open: Callable  # state -> (f_na, f_k)
    n_channel_noise: int  # normals per step for the channels
    voltage_noise: bool  # one more normal per step: white membrane current


_MODELS = {
    "deterministic": _Model(gates_steady, gates_step, gates_open, 0, False),
    "current_noise": _Model(gates_steady, gates_step, gates_open, 0, True),
    "subunit_langevin": _Model(gates_steady, subunit_step, gates_open, 3, False),
    "edge_langevin": _Model(states_steady, edge_step, states_open, N_EDGE_NOISE, False),
}


@partial(jax.jit, static_argnames=("model", "n_steps", "clamped", "record_open"))
def _simulate(mem, mask, seeds, dt, sigma, clamp_mV, *, model, n_steps, clamped, record_open):
    """Run ``n_steps`` steps (``mask`` (n_steps,)) for all simulations (``seeds`` (n,)).

    Returns ``(v,)`` or ``(v, open_na, open_k)``, each (n, n_steps) float32.
    """
    spec = _MODELS[model]
    n_noise = spec.n_channel_noise + int(spec.voltage_noise)
    v0 = jnp.broadcast_to(clamp_mV, mem.V0.shape) if clamped else mem.V0  # mV

    def step(carry, inputs):
        v, channels = carry
        on, noise = inputs
        channels_next = spec.step(channels, v, noise, mem, dt)
        if clamped:
            v_next = v
        else:
            f_na, f_k = spec.open(channels_next)
            current_noise = sigma * noise[-1] if spec.voltage_noise else None  # µA/cm²·ms^½
            v_next = voltage_step(v, f_na, f_k, mem.amplitude * on, mem, dt, current_noise)
        record = (v, *spec.open(channels)) if record_open else (v,)
        return (v_next, channels_next), record

    def chunk(carry, inputs):
        index, mask_chunk = inputs
        noise = chunk_normals(seeds, index * NOISE_CHUNK, NOISE_CHUNK, n_noise)
        return jax.lax.scan(step, carry, (mask_chunk, noise))

    n_chunks = -(-n_steps // NOISE_CHUNK)
    mask = jnp.pad(mask, (0, n_chunks * NOISE_CHUNK - n_steps)).reshape(n_chunks, NOISE_CHUNK)
    chunks = (jnp.arange(n_chunks, dtype=jnp.uint32), mask)
    _, records = jax.lax.scan(chunk, (v0, spec.init(v0)), chunks)
    # (n_chunks, NOISE_CHUNK, n) -> (n, n_steps)
    return tuple(r.reshape(-1, r.shape[-1])[:n_steps].T for r in records)


# ----------------------------------------------------------------------------- public API


def _padded(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` (n,) extended to ``size`` by repeating its last value."""
    return np.concatenate([a, np.repeat(a[-1:], size - a.shape[0])])


def _membrane(constants: Mapping[str, np.ndarray], size: int) -> Membrane:
    """The constants table as float32 device arrays, padded to ``size`` simulations."""
    arrays = {name: _padded(constants[name], size) for name in NAMES}
    n_na, n_k = channel_counts(arrays["gNa"], arrays["gK"], arrays["area"])
    f32 = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    return Membrane(
        **{name: f32(arrays[name]) for name in Membrane._fields if name in arrays},
        inv_n_na=f32(1.0 / np.maximum(n_na, 1)),
        inv_n_k=f32(1.0 / np.maximum(n_k, 1)),
    )


def _run(model, constants, stimulus, dt, seeds, *, sigma=0.0, clamp_mV=None, record_open=False):
    """Check the arguments, run :func:`_simulate` on a padded batch, return numpy traces."""
    missing = [name for name in NAMES if name not in constants]
    if missing:
        raise ValueError(f"constants lack {missing}; every name of {list(NAMES)} is needed")
    constants = {name: np.asarray(constants[name], dtype=np.float64) for name in NAMES}
    shapes = sorted({a.shape for a in constants.values()})
    if len(shapes) != 1 or len(shapes[0]) != 1 or shapes[0][0] == 0:
        raise ValueError(f"constants must all have one shape (n,) with n >= 1, got {shapes}")
    n = shapes[0][0]
    seeds = np.asarray(seeds)
    if seeds.shape != (n,) or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(
            f"seeds must be ({n},) integers like the constants, got {seeds.dtype} {seeds.shape}"
        )
    if seeds.min() < 0 or seeds.max() > np.iinfo(np.uint32).max:
        raise ValueError("seeds must be uint32 values")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    size = -(-n // BATCH_BLOCK) * BATCH_BLOCK
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,))
    records = _simulate(
        _membrane(constants, size),
        jnp.asarray(stimulus.step_mask(dt), dtype=jnp.float32),
        jnp.asarray(_padded(seeds.astype(np.uint32), size)),
        jnp.float32(dt),
        jnp.asarray(_padded(sigma, size), dtype=jnp.float32),
        jnp.float32(0.0 if clamp_mV is None else clamp_mV),
        model=model,
        n_steps=stimulus.n_steps(dt),
        clamped=clamp_mV is not None,
        record_open=record_open,
    )
    v, *opens = (np.asarray(r)[:n].copy() for r in records)  # writable, unpadded
    open_na, open_k = opens if record_open else (None, None)
    return SimOutput(v=v, dt=dt, open_na=open_na, open_k=open_k)


def simulate_deterministic(
    constants: Mapping[str, np.ndarray],
    stimulus: Stimulus,
    dt: float,
    seeds: np.ndarray,
    *,
    clamp_mV: float | None = None,
    record_open: bool = False,
) -> SimOutput:
    """The deterministic HH ODE, gates and V by exponential Euler.

    Parameters
    ----------
    constants : {name: (n,) float64} for every name of :data:`mfnpe.hh.model.NAMES`.
    stimulus : the current step; the trace has ``T = stimulus.n_steps(dt)`` samples.
    dt : integration step = sampling interval [ms].
    seeds : (n,) uint32, one per simulation (unused here; same signature as the others).
    clamp_mV : if given, V is held at this potential [mV] for the whole trace.
    record_open : also return the open fractions ``open_na`` (m3h1) and ``open_k`` (n4).

    Returns
    -------
    SimOutput: ``v`` (n, T) float32 [mV]; ``open_na, open_k`` (n, T) float32 or None.
    """
    return _run("deterministic", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


def simulate_current_noise(
    constants: Mapping[str, np.ndarray],
    stimulus: Stimulus,
    dt: float,
    seeds: np.ndarray,
    *,
    sigma: float | np.ndarray,
    clamp_mV: float | None = None,
    record_open: bool = False,
) -> SimOutput:
    """Deterministic HH plus white current noise: ``C dV = (…) dt + σ dW``.

    ``sigma`` [µA/cm²·ms^½], scalar or (n,); no noise under a clamp. Other arguments and
    the result as :func:`simulate_deterministic`; simulation i depends only on ``seeds[i]``.
    """
    return _run("current_noise", constants, stimulus, dt, seeds, sigma=sigma,
                clamp_mV=clamp_mV, record_open=record_open)


def simulate_subunit_langevin(
    constants: Mapping[str, np.ndarray],
    stimulus: Stimulus,
    dt: float,
    seeds: np.ndarray,
    *,
    clamp_mV: float | None = None,
    record_open: bool = False,
) -> SimOutput:
    """Fox (1997) subunit Langevin HH: noise on each gate, gates clipped to [0, 1].

    Arguments and result as :func:`simulate_deterministic`; simulation i depends only on
    ``seeds[i]``. Known bias: the open-fraction variance differs from the Markov one.
    """
    return _run("subunit_langevin", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


def simulate_edge_langevin(
    constants: Mapping[str, np.ndarray],
    stimulus: Stimulus,
    dt: float,
    seeds: np.ndarray,
    *,
    clamp_mV: float | None = None,
    record_open: bool = False,
) -> SimOutput:
    """Orio & Soudry (2012) edge Langevin HH: one noise per reversible Markov transition.

    Arguments and result as :func:`simulate_deterministic`; simulation i depends only on
    ``seeds[i]``.
    """
    return _run("edge_langevin", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)


SIMULATORS = {
    "deterministic": simulate_deterministic,
    "current_noise": simulate_current_noise,
    "subunit_langevin": simulate_subunit_langevin,
    "edge_langevin": simulate_edge_langevin,
}
"""Model name (config value) -> simulator function."""
