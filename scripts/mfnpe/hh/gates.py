"""Gates in JAX (any model of :mod:`mfnpe.hh.models`): rates, steady state, their step.

Each gate ``x`` obeys ``dx/dt = α(V)(1−x) − β(V)x``; over a step of ``dt`` [ms] with V
held it relaxes exactly by exponential Euler (:func:`gate_relax`). A channel's open
fraction is ``Π x^power`` over its gates (classic: ``f_Na = m³h``, ``f_K = n⁴``). Two
channel models use them:

- ``deterministic`` / ``current_noise``: the plain update (:func:`gates_step`);
- ``subunit_langevin`` (Fox 1997): the update plus noise of diffusion
  ``(α(1−x) + βx) / N``, ``N`` the channel number of the gate's channel (classic:
  ``N_Na`` for ``m, h``, ``N_K`` for ``n``), with the exact Ornstein–Uhlenbeck variance
  for the frozen rate ``α + β`` (:func:`mfnpe.hh.membrane.ou_time`); gates clipped to
  ``[0, 1]`` (:func:`subunit_step`).

At a temperature other than the model's reference one, every rate is multiplied by its
gate type's Q10 factor (``Membrane.rate_scale``, :func:`gate_rates`).

The gate state is a tuple of (n,) float32 arrays, one per gate type in the model's order
(:attr:`mfnpe.hh.channels.NeuronModel.gate_names`). A step function has the signature
``(model, gates, v, noise, mem, dt) -> gates`` of :class:`mfnpe.hh.langevin._Model`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.membrane import Membrane, ou_time

_RATES: dict[str, object] = {}


def clip_fraction(x: jax.Array) -> jax.Array:
    """The one place fractions are kept physical: clip to ``[0, 1]``."""
    return jnp.clip(x, 0.0, 1.0)


def noise_sd(propensity, inv_n, dt):
    """SD ``√(max(0, propensity) · dt / N)`` of a Langevin increment; propensity in 1/ms."""
    return jnp.sqrt(jnp.maximum(propensity, 0.0) * (dt * inv_n))


def gate_rates(model: NeuronModel, v: jax.Array, kinetic=(), scale=()) -> tuple:
    """All ``2 G`` rates [1/ms] of ``model`` at ``v`` (n,) [mV], order ``model.rate_names``;
    ``kinetic``: the model's kinetic constants, each (n,); ``scale``: each gate type's
    temperature factor (n,) (``Membrane.rate_scale``), or ``()``: the rates as written (the
    reference temperature; no multiplication, so bit for bit)."""
    if model.name not in _RATES:
        _RATES[model.name] = model.make_rates(jnp)
    rates = _RATES[model.name]
    r = tuple(getattr(rates, name)(v, *kinetic) for name in model.rate_names)
    if not scale:
        return r
    return tuple(rate * scale[i // 2] for i, rate in enumerate(r))


def gates_steady(model: NeuronModel, v: jax.Array, kinetic=()) -> tuple:
    """Steady-state gates ``x_inf = α / (α + β)`` at ``v`` (n,) [mV], one per gate type
    (at every temperature: its factor scales ``α`` and ``β`` alike)."""
    r = gate_rates(model, v, kinetic)
    return tuple(r[2 * g] / (r[2 * g] + r[2 * g + 1]) for g in range(len(model.gate_names)))


def gate_relax(x, alpha, beta, dt):
    """Exponential Euler of ``dx/dt = α(1−x) − βx`` over ``dt`` [ms] (exact at fixed V).

    Returns ``(x_next, rate, decay)``: the relaxation rate ``α + β`` [1/ms] and
    ``decay = exp(−rate · dt)``, for the noise.
    """
    rate = alpha + beta  # 1/ms
    x_inf = alpha / rate
    decay = jnp.exp(-dt * rate)
    return x_inf + (x - x_inf) * decay, rate, decay


def gates_step(model: NeuronModel, gates: tuple, v, noise, mem: Membrane, dt) -> tuple:
    """Deterministic gate update at ``v`` (n,) [mV]; ``noise`` is ignored."""
    r = gate_rates(model, v, mem.kinetic, mem.rate_scale)
    return tuple(gate_relax(x, r[2 * g], r[2 * g + 1], dt)[0] for g, x in enumerate(gates))


def subunit_step(model: NeuronModel, gates: tuple, v, noise, mem: Membrane, dt) -> tuple:
    """Fox (1997) subunit Langevin update at ``v`` (n,) [mV]; ``noise``: G rows (n,) of
    standard normals, one per gate type."""
    r = gate_rates(model, v, mem.kinetic, mem.rate_scale)
    updated = []
    for g, (name, x) in enumerate(zip(model.gate_names, gates, strict=True)):
        alpha, beta = r[2 * g], r[2 * g + 1]
        inv_n = mem.inv_n[model.gate_channel(name)]
        relaxed, rate, decay = gate_relax(x, alpha, beta, dt)
        sd = noise_sd(alpha * (1.0 - x) + beta * x, inv_n, ou_time(rate, decay, jnp))
        updated.append(clip_fraction(relaxed + sd * noise[g]))
    return tuple(updated)


def _power(x, power: int):
    return x if power == 1 else x**power


def gates_open(model: NeuronModel, gates: tuple) -> tuple:
    """Open fraction ``Π x^power`` of each channel (classic ``(m³h, n⁴)``), each (n,)."""
    by_name = dict(zip(model.gate_names, gates, strict=True))
    opens = []
    for channel in model.channels:
        (first, power), *rest = channel.gates
        f = _power(by_name[first], power)
        for gate, power in rest:
            f = f * _power(by_name[gate], power)
        opens.append(f)
    return tuple(opens)
