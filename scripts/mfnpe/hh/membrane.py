"""The membrane: per-simulation constants and the exponential-Euler voltage step.

With the conductances frozen over a step of ``dt`` [ms], V relaxes exponentially towards
``V_inf = (I + g_Na E_Na + g_K E_K + g_L E_L) / g_tot`` at the rate ``g_tot / C``. Every
simulator advances V by this one update, written (:func:`make_exp_euler`) as

    V_{k+1} = V_k + dt/C · I_net(V_k) · (1 − e^(−x)) / x,   x = dt g_tot / C,

which equals ``V_inf + (V_k − V_inf) e^(−x)`` and stays accurate as ``g_tot → 0`` (forward
Euler in the limit), in float32 (JAX models) and float64 (numba kernels) alike.

No JAX or numba import here (an HF job imports this module and never loads JAX): the
functions take the array namespace ``xp`` (``jax.numpy`` in the models, a scalar namespace
in :mod:`mfnpe.hh.markov`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import jax


class Membrane(NamedTuple):
    """Per-simulation constants of the JAX models, each (n,) float32; per-channel tuples in
    the order of the model's channels (:mod:`mfnpe.hh.models`)."""

    g: tuple  # mS/cm², maximal conductance of each channel
    E: tuple  # mV, reversal potential of each channel
    gL: jax.Array  # mS/cm²
    EL: jax.Array  # mV
    C: jax.Array  # µF/cm²
    v_start: jax.Array  # mV, the resting potential (mfnpe.hh.rest)
    current_scale: jax.Array  # µA/cm² per unit of the stimulus waveform
    inv_n: tuple  # 1 / N of each channel
    kinetic: tuple  # the model's kinetic constants (e.g. VT [mV], tau_max [ms])
    rate_scale: tuple = ()  # per gate type, the rates' temperature factor; () where all are 1


def ou_time(rate, decay, xp):
    """``(1 − decay²) / (2 rate)`` [ms], ``decay = exp(−rate · dt)``, ``rate`` [1/ms].

    The variance a unit white noise adds over one step ``dt`` to a process relaxing at
    ``rate`` (the exact Ornstein–Uhlenbeck step; ``≈ dt`` for ``rate · dt ≪ 1``): V here,
    each gate in :mod:`mfnpe.hh.gates`. The floor on ``rate`` only keeps a zero-conductance
    membrane finite. (No ``where``: XLA:CPU does not vectorise it here, which halves the
    speed of the whole step.)
    """
    return (1.0 - decay * decay) / (2.0 * xp.maximum(rate, 1e-9))


X_FLOOR = 1e-30
"""Smallest ``x = dt g_tot / C`` used in ``(1 − e^(−x)) / x`` (which is 1 there to float
precision): keeps a zero-conductance membrane finite without a ``where``."""


def make_exp_euler(xp, jit=None):
    """The exponential-Euler voltage step over the namespace ``xp``, optionally ``jit``-ed.

    Returns ``exp_euler(v, g_na, g_k, g_l, e_na, e_k, e_l, current, cap, dt) -> v_next``:
    ``v`` [mV], open conductances ``g_*`` [mS/cm²], reversal potentials ``e_*`` [mV],
    ``current`` [µA/cm²], ``cap`` [µF/cm²], ``dt`` [ms]; arrays broadcast (or scalars).
    """
    wrap = jit if jit is not None else (lambda f: f)

    @wrap
    def exp_euler(v, g_na, g_k, g_l, e_na, e_k, e_l, current, cap, dt):
        i_net = current - g_na * (v - e_na) - g_k * (v - e_k) - g_l * (v - e_l)  # µA/cm²
        x = xp.maximum(dt * (g_na + g_k + g_l) / cap, X_FLOOR)
        return v + dt / cap * i_net * (-xp.expm1(-x) / x)

    return exp_euler


def exp_euler_channels(v, g_open, e, g_l, e_l, current, cap, dt, xp):
    """:func:`make_exp_euler`'s step for any number of channels: open conductances
    ``g_open`` [mS/cm²] and reversals ``e`` [mV] (sequences, one per channel), summed in
    order, then the leak. Returns ``(v_next, g_tot)``, ``g_tot`` [mS/cm²]."""
    i_net = current  # µA/cm²
    for g_c, e_c in zip(g_open, e, strict=True):
        i_net = i_net - g_c * (v - e_c)
    i_net = i_net - g_l * (v - e_l)
    g_tot = g_open[0]
    for g_c in g_open[1:]:
        g_tot = g_tot + g_c
    g_tot = g_tot + g_l
    x = xp.maximum(dt * g_tot / cap, X_FLOOR)
    return v + dt / cap * i_net * (-xp.expm1(-x) / x), g_tot


def voltage_step(v, f_open, current, mem: Membrane, dt, noise=None, *, xp):
    """Exponential Euler step of V [mV] over ``dt`` [ms] with conductances frozen (JAX).

    ``v``: (n,) [mV]; ``f_open``: the open fraction of each channel, each (n,);
    ``current``: injected current [µA/cm²] (n,). ``noise``: ``σ ξ`` [µA/cm²·ms^½], a white
    current integrated exactly over the step (the Ornstein–Uhlenbeck variance of the
    membrane with these conductances), or None. Returns V (n,) [mV] at the end of the step.
    """
    g_open = [g * f for g, f in zip(mem.g, f_open, strict=True)]  # mS/cm²
    v_next, g_tot = exp_euler_channels(v, g_open, mem.E, mem.gL, mem.EL, current, mem.C, dt,
                                       xp)
    if noise is None:
        return v_next
    rate = g_tot / mem.C  # 1/ms
    decay = xp.exp(-dt * rate)
    return v_next + noise / mem.C * xp.sqrt(ou_time(rate, decay, xp))  # mV
