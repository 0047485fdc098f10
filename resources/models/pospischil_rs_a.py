"""Pospischil et al.'s (2008) regular-spiking cortical neuron with an A-type K⁺ current.

A model file (config ``model: {file: resources/models/pospischil_rs_a.py}``; docs/method.md,
"Adding a model"): the shipped ``pospischil_rs`` (Na, Kd, M, leak; its rates, constants,
temperature factors) plus ``I_A = gA a³b (V − EK)``, the transient K⁺ current that delays
a cortical cell's first spike and spaces its early spikes. The A gates are Connor &
Stevens' (1977; :mod:`mfnpe.hh.models.a_current`), shifted along the voltage axis by
``VA`` [mV] (a kinetic constant); Q10 3 from 36 °C like the Na and Kd gates.
"""

from types import SimpleNamespace

from mfnpe.hh.channels import Channel, NeuronModel
from mfnpe.hh.models import pospischil
from mfnpe.hh.models.a_current import RATE_NAMES as A_RATE_NAMES
from mfnpe.hh.models.a_current import make_a_rates

CONSTANTS = {
    **pospischil.RS.constants,
    "gA": (1.0, "mS/cm²", "maximal A-type K conductance density"),
    "VA": (0.0, "mV", "shift of the A gates' voltage dependence"),
}


def make_rates(xp, jit=None):
    """Pospischil's rates and the A gates', each ``f(v, VT, tau_max, VA)`` [1/ms], over
    ``xp``."""
    wrap = jit if jit is not None else (lambda f: f)

    def without_va(rate):  # Pospischil's f(v, VT, tau_max)
        return wrap(lambda v, vt, tau_max, va: rate(v, vt, tau_max))

    def only_va(rate):  # the A gates' f(v, VA)
        return wrap(lambda v, vt, tau_max, va: rate(v, va))

    rs, a_gates = pospischil.make_rates(xp, jit), make_a_rates(xp, jit)
    return SimpleNamespace(**{name: without_va(getattr(rs, name)) for name in pospischil.RATE_NAMES},
                           **{name: only_va(getattr(a_gates, name)) for name in A_RATE_NAMES})


MODEL = NeuronModel(
    name="pospischil_rs_a",
    constants=CONSTANTS,
    channels=(*pospischil.CHANNELS,
              Channel("A", (("a", 3), ("b", 1)), "gA", "EK", q10=pospischil.Q10_NA_KD)),
    kinetic=("VT", "tau_max", "VA"),
    make_rates=make_rates,
    rate_names=(*pospischil.RATE_NAMES, *A_RATE_NAMES),
    reference=f"{pospischil.REFERENCE}, with Connor & Stevens' (1977) A current",
    reference_temperature=pospischil.REFERENCE_TEMPERATURE,
)
