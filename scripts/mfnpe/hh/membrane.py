"""The membrane: per-simulation constants and the exponential-Euler voltage step.

With the conductances frozen over a step of ``dt`` [ms], V relaxes exponentially towards
``V_inf = (I + g_Na E_Na + g_K E_K + g_L E_L) / g_tot`` at the rate ``g_tot / C``:

    V_{k+1} = V_inf + (V_k − V_inf) e^(−dt g_tot / C).

Every simulator advances V by this update, written here in the two roundings the results
depend on bit for bit (one formula each would change one fidelity's numbers):

- :func:`voltage_step`: the JAX models (``mfnpe.hh.langevin``), float32 ``(n,)`` arrays,
  as written above, optionally with a white current noise integrated exactly;
- :func:`voltage_step_scalar`: the Markov and binomial kernels (``mfnpe.hh.markov``
  compiles it with numba), float64 scalars, in the equivalent form
  ``V + dt/C · I_net(V) · (1 − e^(−x)) / x``, ``x = dt g_tot / C``, accurate as g_tot → 0.

No JAX or numba import here (an HF job imports this module and never loads JAX): the array
functions take the array namespace ``xp`` (``jax.numpy`` in the models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import jax


class Membrane(NamedTuple):
    """Per-simulation constants of the JAX models, each (n,) float32."""

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


def ou_time(rate, decay, xp):
    """``(1 − decay²) / (2 rate)`` [ms], ``decay = exp(−rate · dt)``, ``rate`` [1/ms].

    The variance a unit white noise adds over one step ``dt`` to a process relaxing at
    ``rate`` (the exact Ornstein–Uhlenbeck step; ``≈ dt`` for ``rate · dt ≪ 1``): V here,
    each gate in :mod:`mfnpe.hh.gates`. The floor on ``rate`` only keeps a zero-conductance
    membrane finite. (No ``where``: XLA:CPU does not vectorise it here, which halves the
    speed of the whole step.)
    """
    return (1.0 - decay * decay) / (2.0 * xp.maximum(rate, 1e-9))


def voltage_step(v, f_na, f_k, current, mem: Membrane, dt, noise=None, *, xp):
    """Exponential Euler step of V [mV] over ``dt`` [ms] with conductances frozen (JAX).

    ``v``: (n,) [mV]; ``f_na, f_k``: open fractions; ``current``: injected current
    [µA/cm²]; all (n,). ``noise``: ``σ ξ`` [µA/cm²·ms^½], a white current integrated exactly
    over the step (the Ornstein–Uhlenbeck variance of the membrane with these
    conductances), or None. Returns V (n,) [mV] at the end of the step.
    """
    g_na = mem.gNa * f_na  # mS/cm²
    g_k = mem.gK * f_k  # mS/cm²
    g_tot = g_na + g_k + mem.gL  # mS/cm²
    v_inf = (current + g_na * mem.ENa + g_k * mem.EK + mem.gL * mem.EL) / g_tot  # mV
    rate = g_tot / mem.C  # 1/ms
    decay = xp.exp(-dt * rate)
    v_next = v_inf + (v - v_inf) * decay
    if noise is None:
        return v_next
    return v_next + noise / mem.C * xp.sqrt(ou_time(rate, decay, xp))  # mV


def voltage_step_scalar(v, g_na, g_k, g_l, e_na, e_k, e_l, current, cap, dt):
    """Exponential Euler step of V [mV] over ``dt`` [ms] with conductances g [mS/cm²] (float64).

    V <- V_inf + (V - V_inf) exp(-dt g_tot / C), written as
    V + dt/C * I_net(V) * (1 - exp(-x)) / x with x = dt g_tot / C, which stays accurate
    as g_tot -> 0. ``g_na, g_k``: open conductances; ``e_*`` [mV]; ``current`` [µA/cm²];
    ``cap`` [µF/cm²]. Plain scalar arithmetic: ``mfnpe.hh.markov`` compiles it with numba.
    """
    g_tot = g_na + g_k + g_l
    i_net = current - g_na * (v - e_na) - g_k * (v - e_k) - g_l * (v - e_l)  # µA/cm²
    x = dt * g_tot / cap
    phi = -np.expm1(-x) / x if abs(x) > 1e-12 else 1.0
    return v + dt / cap * i_net * phi
