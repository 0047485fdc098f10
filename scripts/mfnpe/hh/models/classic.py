"""The classic Hodgkin & Huxley (1952) squid-axon model (modern sign, rest near −65 mV).

``I_Na = gNa m³h (V − ENa)``, ``I_K = gK n⁴ (V − EK)``, leak ``gL (V − EL)``; rates
[1/ms] of V [mV] below (no kinetic constants). 20 pS channels: 6000 Na and 1800 K
channels on the default 100 µm².

Temperature: the rates are Hodgkin & Huxley's at 6.3 °C (the reference temperature);
at ``temperature`` T every rate is multiplied by ``3^((T − 6.3)/10)``, Q10 3 for the m,
h and n gates alike, as in NEURON's ``hh.mod`` (``q10 = 3^((celsius - 6.3)/10)``, which
divides every time constant by it). The default T is 6.3 °C: the model as written.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mfnpe.hh.channels import Channel, NeuronModel

CONSTANTS: dict[str, tuple[float, str, str]] = {
    "gNa": (120.0, "mS/cm²", "maximal Na conductance density"),
    "gK": (36.0, "mS/cm²", "maximal K conductance density"),
    "gL": (0.3, "mS/cm²", "leak conductance density"),
    "ENa": (50.0, "mV", "Na reversal potential"),
    "EK": (-77.0, "mV", "K reversal potential"),
    "EL": (-54.4, "mV", "leak reversal potential"),
    "C": (1.0, "µF/cm²", "membrane capacitance"),
    "area": (100.0, "µm²", "membrane area; sets the channel numbers and so the noise"),
    "amplitude": (10.0, "µA/cm²", "stimulus step amplitude"),
    "temperature": (6.3, "°C", "temperature; the rates hold at 6.3 °C, Q10 3"),
}
"""name -> (default, unit, description). Any of these may be inferred."""

REFERENCE_TEMPERATURE = 6.3
"""°C at which Hodgkin & Huxley's rates hold."""
Q10 = 3.0
"""Q10 of every gate's rates (NEURON's ``hh.mod``)."""

RATE_NAMES = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")


def make_rates(xp=np, jit=None) -> SimpleNamespace:
    """The six HH rate functions over the array namespace ``xp``.

    Parameters
    ----------
    xp : module
        ``numpy`` (also what numba compiles) or ``jax.numpy``.
    jit : callable, optional
        Decorator applied to every function, e.g. ``numba.njit``.

    Returns
    -------
    SimpleNamespace with ``alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n``
    (each ``v [mV] -> rate [1/ms]``) and ``vtrap`` (the safe ``x / (1 - exp(-x))``).
    """
    wrap = jit if jit is not None else (lambda f: f)

    @wrap
    def vtrap(x):
        """x / (1 - exp(-x)), continuous through its removable singularity at x = 0."""
        small = xp.abs(x) < 1e-6
        x_safe = xp.where(small, 1.0, x)
        return xp.where(small, 1.0 + 0.5 * x, x_safe / -xp.expm1(-x_safe))

    @wrap
    def alpha_m(v):
        return vtrap((v + 40.0) / 10.0)  # = 0.1 (V+40) / (1 - exp(-(V+40)/10))

    @wrap
    def beta_m(v):
        return 4.0 * xp.exp(-(v + 65.0) / 18.0)

    @wrap
    def alpha_h(v):
        return 0.07 * xp.exp(-(v + 65.0) / 20.0)

    @wrap
    def beta_h(v):
        return 1.0 / (1.0 + xp.exp(-(v + 35.0) / 10.0))

    @wrap
    def alpha_n(v):
        return 0.1 * vtrap((v + 55.0) / 10.0)  # = 0.01 (V+55) / (1 - exp(-(V+55)/10))

    @wrap
    def beta_n(v):
        return 0.125 * xp.exp(-(v + 65.0) / 80.0)

    return SimpleNamespace(
        vtrap=vtrap,
        alpha_m=alpha_m,
        beta_m=beta_m,
        alpha_h=alpha_h,
        beta_h=beta_h,
        alpha_n=alpha_n,
        beta_n=beta_n,
    )


MODEL = NeuronModel(
    name="classic",
    constants=CONSTANTS,
    channels=(
        Channel("Na", (("m", 3), ("h", 1)), "gNa", "ENa", q10=Q10),
        Channel("K", (("n", 4),), "gK", "EK", q10=Q10),
    ),
    kinetic=(),
    make_rates=make_rates,
    rate_names=RATE_NAMES,
    reference="Hodgkin & Huxley (1952), J. Physiol. 117:500",
    reference_temperature=REFERENCE_TEMPERATURE,
)
