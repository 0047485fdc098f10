"""HH gates ``m, h, n`` in JAX: rates, steady state and their step at fixed V.

Each gate ``x`` obeys ``dx/dt = α(V)(1−x) − β(V)x``; over a step of ``dt`` [ms] with V
held it relaxes exactly by exponential Euler (:func:`gate_relax`). Open fractions
``f_Na = m³h``, ``f_K = n⁴``. Two channel models use them:

- ``deterministic`` / ``current_noise``: the plain update (:func:`gates_step`);
- ``subunit_langevin`` (Fox 1997): the update plus noise of diffusion
  ``(α(1−x) + βx) / N``, ``N = N_Na`` for ``m, h`` and ``N_K`` for ``n``, with the exact
  Ornstein–Uhlenbeck variance for the frozen rate ``α + β``
  (:func:`mfnpe.hh.membrane.ou_time`); gates clipped to ``[0, 1]`` (:func:`subunit_step`).

A step function has the signature ``(gates, v, noise, mem, dt) -> gates`` of
:class:`mfnpe.hh.langevin._Model`; all arrays are (n,) float32, one entry per simulation.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mfnpe.hh.kinetics import RATE_NAMES, make_rates
from mfnpe.hh.membrane import Membrane, ou_time

_rates = make_rates(jnp)


def clip_fraction(x: jax.Array) -> jax.Array:
    """The one place fractions are kept physical: clip to ``[0, 1]``."""
    return jnp.clip(x, 0.0, 1.0)


def noise_sd(propensity, inv_n, dt):
    """SD ``√(max(0, propensity) · dt / N)`` of a Langevin increment; propensity in 1/ms."""
    return jnp.sqrt(jnp.maximum(propensity, 0.0) * (dt * inv_n))


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
        sd = noise_sd(alpha * (1.0 - x) + beta * x, inv_n, ou_time(rate, decay, jnp))
        updated.append(clip_fraction(relaxed + sd * xi))
    return Gates(*updated)


def gates_open(gates: Gates):
    """Open fractions ``(m³h, n⁴)``, each (n,)."""
    return gates.m**3 * gates.h, gates.n**4
