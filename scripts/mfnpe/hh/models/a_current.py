"""The A-type (transient) K⁺ current of Connor & Stevens (1977), as a building block for
model files (docs/method.md, "Adding a model"; no shipped model has it).

``I_A = gA a³b (V − E)`` with, as in Dayan & Abbott (2001, Theoretical Neuroscience,
Eq. 6.4), ``u = V − VA`` [mV] (``VA`` shifts the gates along the voltage axis):

- ``a∞ = (0.0761 e^{0.0314 (u + 94.22)} / (1 + e^{0.0346 (u + 1.17)}))^{1/3}``,
  ``τa = 0.3632 + 1.158 / (1 + e^{0.0497 (u + 55.96)})`` ms;
- ``b∞ = (1 + e^{0.0688 (u + 53.3)})^{-4}``, ``τb = 1.24 + 2.678 / (1 + e^{0.0624 (u + 50)})`` ms;

as rates ``α = x∞ / τ``, ``β = (1 − x∞) / τ`` [1/ms]. The formula's a∞ exceeds 1 above
about u = +41 mV (1.012 at +60), which would make β negative: a∞ is capped at 1 there.
"""

from __future__ import annotations

from types import SimpleNamespace

RATE_NAMES = ("alpha_a", "beta_a", "alpha_b", "beta_b")


def make_a_rates(xp, jit=None) -> SimpleNamespace:
    """``alpha_a, beta_a, alpha_b, beta_b`` as functions ``(v [mV], va [mV]) -> 1/ms`` over
    the array namespace ``xp``, each decorated with ``jit`` (a model's ``make_rates``
    arguments)."""
    wrap = jit if jit is not None else (lambda f: f)

    @wrap
    def a_inf(v, va):
        u = v - va
        cube = 0.0761 * xp.exp(0.0314 * (u + 94.22)) / (1.0 + xp.exp(0.0346 * (u + 1.17)))
        return xp.minimum(cube, 1.0) ** (1.0 / 3.0)  # a probability: capped at 1

    @wrap
    def tau_a(v, va):
        return 0.3632 + 1.158 / (1.0 + xp.exp(0.0497 * (v - va + 55.96)))

    @wrap
    def b_inf(v, va):
        return (1.0 + xp.exp(0.0688 * (v - va + 53.3))) ** -4.0

    @wrap
    def tau_b(v, va):
        return 1.24 + 2.678 / (1.0 + xp.exp(0.0624 * (v - va + 50.0)))

    @wrap
    def alpha_a(v, va):
        return a_inf(v, va) / tau_a(v, va)

    @wrap
    def beta_a(v, va):
        return (1.0 - a_inf(v, va)) / tau_a(v, va)

    @wrap
    def alpha_b(v, va):
        return b_inf(v, va) / tau_b(v, va)

    @wrap
    def beta_b(v, va):
        return (1.0 - b_inf(v, va)) / tau_b(v, va)

    return SimpleNamespace(alpha_a=alpha_a, beta_a=beta_a, alpha_b=alpha_b, beta_b=beta_b)
