"""A user's neuron model from a file: Hodgkin & Huxley's squid axon with an A-type K⁺
current, a channel none of the shipped models has.

``I = gNa m³h (V − ENa) + gK n⁴ (V − EK) + gA a³b (V − EA) + gL (V − EL)``. The Na and K
rates are Hodgkin & Huxley's (1952), written here; the A gates are Connor & Stevens'
(1977), from :mod:`mfnpe.hh.models.a_current` (their voltage shift ``VA`` [mV] a kinetic
constant). The rates hold at one temperature (none is modelled). Run it with
``model: {file: tests/models/hh_a_current.py}``.
"""

from types import SimpleNamespace

from mfnpe.hh.channels import Channel, NeuronModel, make_vtrap
from mfnpe.hh.models.a_current import RATE_NAMES as A_RATE_NAMES
from mfnpe.hh.models.a_current import make_a_rates

CONSTANTS = {  # name -> (default, unit, description)
    "gNa": (120.0, "mS/cm²", "maximal Na conductance density"),
    "gK": (20.0, "mS/cm²", "maximal delayed-rectifier K conductance density"),
    "gA": (10.0, "mS/cm²", "maximal A-type K conductance density"),
    "gL": (0.3, "mS/cm²", "leak conductance density"),
    "ENa": (50.0, "mV", "Na reversal potential"),
    "EK": (-77.0, "mV", "delayed-rectifier K reversal potential"),
    "EA": (-80.0, "mV", "A-type K reversal potential"),
    "EL": (-54.4, "mV", "leak reversal potential"),
    "C": (1.0, "µF/cm²", "membrane capacitance"),
    "area": (100.0, "µm²", "membrane area; sets the channel numbers"),
    "amplitude": (10.0, "µA/cm²", "stimulus step amplitude"),
    "VA": (0.0, "mV", "shift of the A gates' voltage dependence"),
}


def make_rates(xp, jit=None):
    """The rates ``alpha_<gate>(v, VA)``, ``beta_<gate>(v, VA)`` [1/ms] over ``xp``."""
    wrap = jit if jit is not None else (lambda f: f)
    vtrap = make_vtrap(xp, wrap)

    @wrap
    def alpha_m(v, va):
        return vtrap((v + 40.0) / 10.0)

    @wrap
    def beta_m(v, va):
        return 4.0 * xp.exp(-(v + 65.0) / 18.0)

    @wrap
    def alpha_h(v, va):
        return 0.07 * xp.exp(-(v + 65.0) / 20.0)

    @wrap
    def beta_h(v, va):
        return 1.0 / (1.0 + xp.exp(-(v + 35.0) / 10.0))

    @wrap
    def alpha_n(v, va):
        return 0.1 * vtrap((v + 55.0) / 10.0)

    @wrap
    def beta_n(v, va):
        return 0.125 * xp.exp(-(v + 65.0) / 80.0)

    a_gates = make_a_rates(xp, jit)
    return SimpleNamespace(alpha_m=alpha_m, beta_m=beta_m, alpha_h=alpha_h, beta_h=beta_h,
                           alpha_n=alpha_n, beta_n=beta_n, **vars(a_gates))


MODEL = NeuronModel(
    name="hh_a_current",
    constants=CONSTANTS,
    channels=(
        Channel("Na", (("m", 3), ("h", 1)), "gNa", "ENa"),
        Channel("K", (("n", 4),), "gK", "EK"),
        Channel("A", (("a", 3), ("b", 1)), "gA", "EA"),
    ),
    kinetic=("VA",),
    make_rates=make_rates,
    rate_names=("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n", *A_RATE_NAMES),
    reference="Hodgkin & Huxley (1952) with Connor & Stevens' (1977) A current "
              "(Dayan & Abbott 2001, Eq. 6.4)",
)
