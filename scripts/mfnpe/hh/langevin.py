"""Low-fidelity HH simulators in JAX: deterministic, current noise, subunit and edge Langevin.

This module holds the shared time loop and the public ``simulate_*`` functions; the
channel mechanisms are in :mod:`mfnpe.hh.gates` (``deterministic``, ``current_noise``,
``subunit_langevin``) and :mod:`mfnpe.hh.schemes` (``edge_langevin``), the voltage step in
:mod:`mfnpe.hh.membrane`, the noise in :mod:`mfnpe.hh.threefry`.

All four share one compiled time loop (:func:`_simulate`): per-simulation constants are
``(n,)`` arrays, all ``n`` simulations advance together by ``lax.scan`` over time steps,
and a trace is compiled once per model and shape ``(n, T)`` (docs/method.md, "Fidelities").

Step ``k`` covers ``[k dt, (k+1) dt)`` with current ``I_k = scale · waveform[k]`` (the
stimulus's per-simulation ``current_scale`` and shared ``waveform``, :mod:`mfnpe.stimulus.step`):

1. the channels advance with V held at ``V_k`` (the model's ``step``);
2. V advances by exponential Euler with the conductances frozen at the new open fractions,
   ``V_{k+1} = V_inf + (V_k − V_inf) e^(−dt g_tot / C)``
   (:func:`mfnpe.hh.membrane.voltage_step`); ``current_noise`` adds white current noise,
   ``C dV = (…) dt + σ dW``, with the exact Ornstein–Uhlenbeck variance of the step.

Temperature: away from the model's reference temperature every gate type's rates are
multiplied by its Q10 factor (:meth:`mfnpe.hh.channels.NeuronModel.rate_factors`,
``Membrane.rate_scale``); at the reference temperature the factor is not applied at all
(the compiled trace is the one without it).

Channel numbers ``N = round(ḡ/2 · area)`` (:func:`mfnpe.hh.kinetics.channel_counts`) set
only the noise; ``N = 0`` is treated as 1.

Initial state: at rest (docs/method.md, "The start"): ``V`` the simulation's resting
potential (:func:`mfnpe.hh.rest.resting_potential`, from its own constants), the channels
at their deterministic steady state there (gates ``x_inf``, state fractions the binomial
stationary distribution; not drawn). Under a voltage clamp V is ``clamp_mV`` for the whole
trace (``v[:, 0]`` included), the channels start at their steady state at ``clamp_mV`` and
there is no current noise.

Randomness: the normals of step ``k`` of the simulation with seed ``s`` are a pure function
of ``(s, k)`` (:func:`mfnpe.hh.threefry.chunk_normal_pairs`: normal ``j < P`` is the cosine
part of pair ``j``, normal ``P + j`` its sine part, ``P = ⌈normals/2⌉``), and batches are
padded to :data:`BATCH_BLOCK`. So a trace depends only on its own constants and seed — not on the
batch, its position in it, nor the thread that runs it — bit for bit.

Threads: XLA:CPU releases the GIL while it runs, so batches submitted from several Python
threads run in parallel on XLA's thread pool; one CPU device is enough. XLA flags do not
cap that pool: :func:`mfnpe.runtime.start_jax` sizes it to the job's threads.

Compiled programs persist between processes in JAX's disk cache
(:func:`mfnpe.runtime.use_jax_cache`, set up when this module is imported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mfnpe import runtime
from mfnpe.hh.gates import gates_open, gates_steady, gates_step, subunit_step
from mfnpe.hh.membrane import Membrane, voltage_step
from mfnpe.hh.models import DEFAULT_MODEL, MODEL_KEY, get_model, reference_of
from mfnpe.hh.output import SimOutput
from mfnpe.hh.rest import resting_potential
from mfnpe.hh.schemes import edge_step, n_edge_noise, states_open, states_steady
from mfnpe.stimulus.step import Stimulus
from mfnpe.hh.threefry import chunk_normal_pairs

runtime.use_jax_cache()  # a simulator another process compiled is read from disk

NOISE_CHUNK = 50
"""Time steps whose normals are drawn together as arrays (speed only, not the values)."""

BATCH_BLOCK = 32
"""Batches are padded to a multiple of this many simulations, so every simulation runs in
XLA's vectorised code path and its rounding does not depend on the batch size."""


# ----------------------------------------------------------------------------- time loop


class _Model(NamedTuple):
    """A channel model: how its state starts, advances and opens (``n`` simulations); each
    function takes the neuron model (:mod:`mfnpe.hh.models`) first."""

    init: Callable  # (neuron, v (n,) [mV], kinetic) -> channel state
    step: Callable  # (neuron, state, v, noise: n_channel_noise rows (n,), Membrane, dt)
    open: Callable  # (neuron, state) -> open fraction per channel
    n_channel_noise: Callable  # neuron -> normals per step for the channels
    voltage_noise: bool  # one more normal per step: white membrane current


_MODELS = {
    "deterministic": _Model(gates_steady, gates_step, gates_open, lambda _: 0, False),
    "current_noise": _Model(gates_steady, gates_step, gates_open, lambda _: 0, True),
    "subunit_langevin": _Model(gates_steady, subunit_step, gates_open,
                               lambda neuron: len(neuron.gate_names), False),
    "edge_langevin": _Model(states_steady, edge_step, states_open, n_edge_noise, False),
}


@partial(jax.jit, static_argnames=("model", "neuron", "n_steps", "clamped", "record_open"))
def _simulate(mem, waveform, seeds, dt, sigma, clamp_mV, *, model, neuron, n_steps, clamped,
              record_open):
    """Run ``n_steps`` steps (``waveform`` (n_steps,)) for all simulations (``seeds`` (n,))
    of the neuron model ``neuron`` (a NeuronModel, hashed by identity: one per process).

    Returns ``(v,)`` or ``(v, open_0, open_1, ...)`` (one per channel), each (n, n_steps)
    float32.
    """
    spec = _MODELS[model]
    cell = neuron
    n_noise = spec.n_channel_noise(cell) + int(spec.voltage_noise)
    n_pairs = -(-n_noise // 2)  # two normals per Threefry call
    v0 = jnp.broadcast_to(clamp_mV, mem.v_start.shape) if clamped else mem.v_start  # mV

    def step(carry, inputs):
        v, channels, normals = carry  # normals: this step's (cos, sin) parts, (n_pairs, n)
        on, normals_next = inputs
        noise = [*normals[0], *normals[1]][:n_noise] if n_noise else None  # rows (n,)
        channels_next = spec.step(cell, channels, v, noise, mem, dt)
        if clamped:
            v_next = v
        else:
            f_open = spec.open(cell, channels_next)
            current_noise = sigma * noise[-1] if spec.voltage_noise else None  # µA/cm²·ms^½
            v_next = voltage_step(v, f_open, mem.current_scale * on, mem, dt, current_noise,
                                  xp=jnp)
        record = (v, *spec.open(cell, channels)) if record_open else (v,)
        return (v_next, channels_next, normals_next), record

    def chunk(carry, inputs):
        index, waveform_chunk = inputs
        # A step reads its normals from the carry and hands on the next step's, drawn here
        # (steps + 1): a dynamic slice fused into the step keeps XLA:CPU from vectorising
        # the step's arithmetic.
        following = chunk_normal_pairs(seeds, index * NOISE_CHUNK + 1, NOISE_CHUNK, n_pairs)
        return jax.lax.scan(step, carry, (waveform_chunk, following))

    n_chunks = -(-n_steps // NOISE_CHUNK)
    waveform = jnp.pad(waveform, (0, n_chunks * NOISE_CHUNK - n_steps)).reshape(n_chunks, NOISE_CHUNK)
    chunks = (jnp.arange(n_chunks, dtype=jnp.uint32), waveform)
    first = tuple(part[0] for part in chunk_normal_pairs(seeds, jnp.uint32(0), 1, n_pairs))
    start = (v0, spec.init(cell, v0, mem.kinetic), first)
    _, records = jax.lax.scan(chunk, start, chunks)
    # (n_chunks, NOISE_CHUNK, n) -> (n, n_steps)
    return tuple(r.reshape(-1, r.shape[-1])[:n_steps].T for r in records)


# ----------------------------------------------------------------------------- public API


def _padded(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` (n,) extended to ``size`` by repeating its last value."""
    return np.concatenate([a, np.repeat(a[-1:], size - a.shape[0])])


def _membrane(constants: Mapping[str, np.ndarray], stimulus, size: int, neuron,
              reference: str | None = None) -> Membrane:
    """The constants table of the model ``neuron`` (its reference ``reference``; None: the
    table's own) as float32 device arrays, padded to ``size`` simulations."""
    reference = reference_of(constants) if reference is None else reference
    arrays = {name: _padded(constants[name], size) for name in neuron.names}
    n = len(constants[neuron.names[0]])
    scale = np.broadcast_to(stimulus.current_scale(constants), (n,)).astype(np.float64)
    arrays["current_scale"] = _padded(scale, size)
    if reference != DEFAULT_MODEL:
        arrays[MODEL_KEY] = np.full(size, reference)
    holding = stimulus.holding_current(constants)  # µA/cm² before the start, or None
    if holding is not None:
        holding = _padded(np.broadcast_to(np.asarray(holding, np.float64), (n,)), size)
    arrays["v_start"] = resting_potential(arrays, holding)
    counts = neuron.channel_counts(arrays)
    factors = neuron.factors_of(arrays)  # (G, size) float64, exactly 1.0 at T_ref
    f32 = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    return Membrane(
        g=tuple(f32(arrays[c.conductance]) for c in neuron.channels),
        E=tuple(f32(arrays[c.reversal]) for c in neuron.channels),
        **{name: f32(arrays[name]) for name in ("gL", "EL", "C", "v_start", "current_scale")},
        inv_n=tuple(f32(1.0 / np.maximum(n_c, 1)) for n_c in counts),
        kinetic=tuple(f32(arrays[name]) for name in neuron.kinetic),
        rate_scale=() if np.all(factors == 1.0) else tuple(f32(f) for f in factors),
    )


def _run(model, constants, stimulus, dt, seeds, *, sigma=0.0, clamp_mV=None, record_open=False):
    """Check the arguments, run :func:`_simulate` on a padded batch, return numpy traces."""
    reference = reference_of(constants)
    neuron = get_model(reference)
    names = neuron.names
    missing = [name for name in names if name not in constants]
    if missing:
        raise ValueError(f"constants lack {missing}; every constant of model {neuron.name!r} "
                         f"{list(names)} is needed")
    constants = {name: np.asarray(constants[name], dtype=np.float64) for name in names}
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
        _membrane(constants, stimulus, size, neuron, reference),
        jnp.asarray(stimulus.waveform(dt), dtype=jnp.float32),
        jnp.asarray(_padded(seeds.astype(np.uint32), size)),
        jnp.float32(dt),
        jnp.asarray(_padded(sigma, size), dtype=jnp.float32),
        jnp.float32(0.0 if clamp_mV is None else clamp_mV),
        model=model,
        neuron=neuron,
        n_steps=stimulus.n_steps(dt),
        clamped=clamp_mV is not None,
        record_open=record_open,
    )
    v, *opens = (np.asarray(r)[:n].copy() for r in records)  # writable, unpadded
    return SimOutput.of(v, dt, [c.name for c in neuron.channels], opens if record_open else None)


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
    """Orio & Soudry (2012) Langevin HH on the Markov state fractions: one noise per
    reversible pair of states (:mod:`mfnpe.hh.schemes`).

    Arguments and result as :func:`simulate_deterministic`; simulation i depends only on
    ``seeds[i]``. Known to fail below about 60 000 Na channels (1000 µm² at 120 mS/cm²;
    :func:`mfnpe.simulation.regimes.channel_count_warnings`).
    """
    return _run("edge_langevin", constants, stimulus, dt, seeds, clamp_mV=clamp_mV,
                record_open=record_open)

