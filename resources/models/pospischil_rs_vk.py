"""Pospischil et al.'s (2008) regular-spiking cortical neuron with the delayed rectifier's
voltage shift apart from the Na channel's.

A model file (config ``model: {file: resources/models/pospischil_rs_vk.py}``; docs/method.md,
"Adding a model"): the shipped ``pospischil_rs`` (Na, Kd, M, leak; its rates, constants,
temperature factors) in which ``VT`` [mV] shifts the Na gates only and a second kinetic
constant ``VTK`` [mV] shifts the Kd gate ``n``. In the published model one ``VT`` shifts
both, so a cell that fires at a low threshold also has its Kd current open at rest, which
holds its input resistance and time constant low; with ``VTK = VT`` this is the published
model (the same rates, bit for bit).
"""

from types import SimpleNamespace

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.models import pospischil

CONSTANTS = {
    **pospischil.RS.constants,
    "VT": (-56.2, "mV", "spike threshold shift of the Na rates (regular spiking)"),
    "VTK": (-56.2, "mV", "shift of the Kd rates (regular spiking: equal to VT)"),
}


def make_rates(xp, jit=None):
    """Pospischil's rates, each ``f(v, VT, tau_max, VTK)`` [1/ms], over ``xp``: the Kd gate's
    with ``VTK`` in the place of ``VT``."""
    wrap = jit if jit is not None else (lambda f: f)
    rs = pospischil.make_rates(xp, jit)

    def na_and_m(rate):  # f(v, VT, tau_max)
        return wrap(lambda v, vt, tau_max, vtk: rate(v, vt, tau_max))

    def kd(rate):  # f(v, VTK, tau_max)
        return wrap(lambda v, vt, tau_max, vtk: rate(v, vtk, tau_max))

    return SimpleNamespace(**{name: (kd if name.endswith("_n") else na_and_m)(getattr(rs, name))
                              for name in pospischil.RATE_NAMES})


MODEL = NeuronModel(
    name="pospischil_rs_vk",
    constants=CONSTANTS,
    channels=pospischil.CHANNELS,
    kinetic=("VT", "tau_max", "VTK"),
    make_rates=make_rates,
    rate_names=pospischil.RATE_NAMES,
    reference=f"{pospischil.REFERENCE}, with the Kd shift apart from the Na shift",
    reference_temperature=pospischil.REFERENCE_TEMPERATURE,
)
