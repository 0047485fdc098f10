"""Pospischil et al.'s (2008) regular-spiking cortical neuron with an A-type K⁺ current.

A model file (config ``model: {file: resources/models/pospischil_rs_a.py}``; docs/method.md,
"Adding a model"): the shipped ``pospischil_rs`` (Na, Kd, M, leak; its rates, constants,
temperature factors) plus ``I_A = gA a³b (V − EK)``, the transient K⁺ current that delays
a cortical cell's first spike and spaces its early spikes. The A gates are Connor &
Stevens' (1977, as in Dayan & Abbott 2001, Eq. 6.4), shifted along the voltage axis by
``VA`` [mV] (a kinetic constant); Q10 3 from 36 °C like the Na and Kd gates.
"""

from types import SimpleNamespace

from mfnpe.hh.channels import Channel, NeuronModel
from mfnpe.hh.models import pospischil

CONSTANTS = {
    **pospischil.RS.constants,
    "gA": (1.0, "mS/cm²", "maximal A-type K conductance density"),
    "VA": (0.0, "mV", "shift of the A gates' voltage dependence"),
}


def make_rates(xp, jit=None):
    """Pospischil's rates ``f(v, VT, tau_max, VA)`` and the A gates' [1/ms] over ``xp``."""
    wrap = jit if jit is not None else (lambda f: f)
    rs = pospischil.make_rates(xp, jit)
    rs_alpha_m, rs_beta_m, rs_alpha_h, rs_beta_h = rs.alpha_m, rs.beta_m, rs.alpha_h, rs.beta_h
    rs_alpha_n, rs_beta_n, rs_alpha_p, rs_beta_p = rs.alpha_n, rs.beta_n, rs.alpha_p, rs.beta_p

    @wrap
    def alpha_m(v, vt, tau_max, va):
        return rs_alpha_m(v, vt, tau_max)

    @wrap
    def beta_m(v, vt, tau_max, va):
        return rs_beta_m(v, vt, tau_max)

    @wrap
    def alpha_h(v, vt, tau_max, va):
        return rs_alpha_h(v, vt, tau_max)

    @wrap
    def beta_h(v, vt, tau_max, va):
        return rs_beta_h(v, vt, tau_max)

    @wrap
    def alpha_n(v, vt, tau_max, va):
        return rs_alpha_n(v, vt, tau_max)

    @wrap
    def beta_n(v, vt, tau_max, va):
        return rs_beta_n(v, vt, tau_max)

    @wrap
    def alpha_p(v, vt, tau_max, va):
        return rs_alpha_p(v, vt, tau_max)

    @wrap
    def beta_p(v, vt, tau_max, va):
        return rs_beta_p(v, vt, tau_max)

    @wrap
    def a_inf(v, va):
        u = v - va
        return (0.0761 * xp.exp(0.0314 * (u + 94.22)) / (1.0 + xp.exp(0.0346 * (u + 1.17)))) ** (
            1.0 / 3.0)

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
    def alpha_a(v, vt, tau_max, va):
        return a_inf(v, va) / tau_a(v, va)

    @wrap
    def beta_a(v, vt, tau_max, va):
        return (1.0 - a_inf(v, va)) / tau_a(v, va)

    @wrap
    def alpha_b(v, vt, tau_max, va):
        return b_inf(v, va) / tau_b(v, va)

    @wrap
    def beta_b(v, vt, tau_max, va):
        return (1.0 - b_inf(v, va)) / tau_b(v, va)

    return SimpleNamespace(alpha_m=alpha_m, beta_m=beta_m, alpha_h=alpha_h, beta_h=beta_h,
                           alpha_n=alpha_n, beta_n=beta_n, alpha_p=alpha_p, beta_p=beta_p,
                           alpha_a=alpha_a, beta_a=beta_a, alpha_b=alpha_b, beta_b=beta_b)


MODEL = NeuronModel(
    name="pospischil_rs_a",
    constants=CONSTANTS,
    channels=(*pospischil.CHANNELS,
              Channel("A", (("a", 3), ("b", 1)), "gA", "EK", q10=pospischil.Q10_NA_KD)),
    kinetic=("VT", "tau_max", "VA"),
    make_rates=make_rates,
    rate_names=("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n", "alpha_p",
                "beta_p", "alpha_a", "beta_a", "alpha_b", "beta_b"),
    reference=f"{pospischil.REFERENCE}, with Connor & Stevens' (1977) A current",
    reference_temperature=pospischil.REFERENCE_TEMPERATURE,
)
