"""Pospischil et al. (2008, Biol. Cybern. 99:427) single-compartment cortical neurons.

``I_Na = gNa m³h (V − ENa)``, ``I_Kd = gK n⁴ (V − EK)``, slow non-inactivating
``I_M = gM p (V − EK)``, leak ``gL (V − EL)``. With ``u = V − VT`` [mV], rates [1/ms]:

- ``α_m = −0.32 (u − 13) / (exp(−(u − 13)/4) − 1)``, ``β_m = 0.28 (u − 40) / (exp((u − 40)/5) − 1)``;
- ``α_h = 0.128 exp(−(u − 17)/18)``, ``β_h = 4 / (1 + exp(−(u − 40)/5))``;
- ``α_n = −0.032 (u − 15) / (exp(−(u − 15)/5) − 1)``, ``β_n = 0.5 exp(−(u − 10)/40)``;
- M: ``p∞ = 1 / (1 + exp(−(V + 35)/10))``,
  ``τ_p = tau_max / (3.3 exp((V + 35)/20) + exp(−(V + 35)/20))``,
  ``α_p = p∞ / τ_p``, ``β_p = (1 − p∞) / τ_p`` (a two-state channel, one gate).

Two parameter sets, two registered models sharing these rates:
regular spiking ``pospischil_rs`` (gNa 56, gK 6, gM 0.075, gL 0.0205 mS/cm², EL −70.3,
VT −56.2 mV, tau_max 608 ms) and fast spiking ``pospischil_fs`` (gNa 58, gK 3.9,
gM 0.0787, gL 0.038 mS/cm², EL −70.4, VT −57.9 mV, tau_max 502 ms); both ENa 50,
EK −90 mV, C 1 µF/cm². These are the paper's values (its Table and Fig. 2/3 fits), as
also found in public implementations of the model (e.g. the Gonçalves et al. 2020 / sbi
HH example, which uses the RS-like kinetics; NEURON and MATLAB ports list
gNabar 0.056 S/cm², gKdbar 0.006, gMbar 7.5e-5, gLeak 2.05e-5, ELeak −70.3, VT −56.2,
TauMax 608 for RS and 580, 39, 0.787, 0.38 S/m², −70.4, −57.9, 502 for FS). Not taken
from the paper: area (100 µm², as the classic model) and amplitude (10 µA/cm²), which are
this project's defaults. At 100 µm² the M channel has only round(0.0375 · 100) = 4 (RS)
channels: its noise is large (docs/method.md, "The neuron").

Temperature: the rates hold at 36 °C, the temperature of the paper's simulations
(NEURON's ``celsius = 36``). At ``temperature`` T the Na and Kd rates are multiplied by
``3^((T − 36)/10)`` and the M rates by ``2.3^((T − 36)/10)``: the ``tadj`` of the
paper's own NEURON mechanisms (ModelDB 123623: ``HH_traub.mod`` ``tadj = 3.0 ^
((celsius-36)/ 10 )``, dividing τm, τh, τn; ``IM_cortex.mod`` ``tadj = 2.3 ^
((celsius-36)/10)``, dividing tau_max), steady states unchanged. Default 36 °C: the
model as published.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mfnpe.hh.channels import Channel, NeuronModel, make_vtrap

REFERENCE_TEMPERATURE = 36.0
"""°C at which the rates hold (ModelDB 123623: ``celsius = 36``)."""
Q10_NA_KD = 3.0
"""Q10 of the Na and Kd gates (ModelDB 123623 ``HH_traub.mod``)."""
Q10_M = 2.3
"""Q10 of the M gate (ModelDB 123623 ``IM_cortex.mod``)."""

RATE_NAMES = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n", "alpha_p", "beta_p")


def make_rates(xp=np, jit=None) -> SimpleNamespace:
    """The eight rate functions over ``xp``: ``f(v [mV], VT [mV], tau_max [ms]) -> 1/ms``.

    (Every function takes both kinetic constants, so all share one signature.)
    """
    wrap = jit if jit is not None else (lambda f: f)
    vtrap = make_vtrap(xp, wrap)

    @wrap
    def alpha_m(v, vt, tau_max):
        return 1.28 * vtrap((v - vt - 13.0) / 4.0)  # = −0.32 (u−13) / (exp(−(u−13)/4) − 1)

    @wrap
    def beta_m(v, vt, tau_max):
        return 1.4 * vtrap(-(v - vt - 40.0) / 5.0)  # = 0.28 (u−40) / (exp((u−40)/5) − 1)

    @wrap
    def alpha_h(v, vt, tau_max):
        return 0.128 * xp.exp(-(v - vt - 17.0) / 18.0)

    @wrap
    def beta_h(v, vt, tau_max):
        return 4.0 / (1.0 + xp.exp(-(v - vt - 40.0) / 5.0))

    @wrap
    def alpha_n(v, vt, tau_max):
        return 0.16 * vtrap((v - vt - 15.0) / 5.0)  # = −0.032 (u−15) / (exp(−(u−15)/5) − 1)

    @wrap
    def beta_n(v, vt, tau_max):
        return 0.5 * xp.exp(-(v - vt - 10.0) / 40.0)

    @wrap
    def p_inf(v):
        return 1.0 / (1.0 + xp.exp(-(v + 35.0) / 10.0))

    @wrap
    def tau_p(v, tau_max):
        return tau_max / (3.3 * xp.exp((v + 35.0) / 20.0) + xp.exp(-(v + 35.0) / 20.0))

    @wrap
    def alpha_p(v, vt, tau_max):
        return p_inf(v) / tau_p(v, tau_max)

    @wrap
    def beta_p(v, vt, tau_max):
        return (1.0 - p_inf(v)) / tau_p(v, tau_max)

    return SimpleNamespace(vtrap=vtrap, p_inf=p_inf, tau_p=tau_p, alpha_m=alpha_m,
                           beta_m=beta_m, alpha_h=alpha_h, beta_h=beta_h, alpha_n=alpha_n,
                           beta_n=beta_n, alpha_p=alpha_p, beta_p=beta_p)


def _constants(gNa, gK, gM, gL, EL, VT, tau_max, label):
    return {
        "gNa": (gNa, "mS/cm²", "maximal Na conductance density"),
        "gK": (gK, "mS/cm²", "maximal delayed-rectifier K (Kd) conductance density"),
        "gM": (gM, "mS/cm²", "maximal slow M-type K conductance density"),
        "gL": (gL, "mS/cm²", "leak conductance density"),
        "ENa": (50.0, "mV", "Na reversal potential"),
        "EK": (-90.0, "mV", "K reversal potential (Kd and M)"),
        "EL": (EL, "mV", "leak reversal potential"),
        "C": (1.0, "µF/cm²", "membrane capacitance"),
        "area": (100.0, "µm²", "membrane area; sets the channel numbers and so the noise"),
        "amplitude": (10.0, "µA/cm²", "stimulus step amplitude"),
        "VT": (VT, "mV", f"spike threshold shift of the Na and Kd rates ({label})"),
        "tau_max": (tau_max, "ms", f"largest M-current time constant ({label})"),
        "temperature": (REFERENCE_TEMPERATURE, "°C",
                        "temperature; the rates hold at 36 °C, Q10 3 (Na, Kd), 2.3 (M)"),
    }


CHANNELS = (
    Channel("Na", (("m", 3), ("h", 1)), "gNa", "ENa", q10=Q10_NA_KD),
    Channel("Kd", (("n", 4),), "gK", "EK", q10=Q10_NA_KD),
    Channel("M", (("p", 1),), "gM", "EK", q10=Q10_M),
)
REFERENCE = "Pospischil et al. (2008), Biol. Cybern. 99:427"


def _model(name, constants):
    return NeuronModel(name=name, constants=constants, channels=CHANNELS,
                       kinetic=("VT", "tau_max"), make_rates=make_rates, rate_names=RATE_NAMES,
                       reference=REFERENCE,
                       reference_temperature=REFERENCE_TEMPERATURE)


RS = _model("pospischil_rs", _constants(56.0, 6.0, 0.075, 0.0205, -70.3, -56.2, 608.0,
                                        "regular spiking"))
FS = _model("pospischil_fs", _constants(58.0, 3.9, 0.0787, 0.038, -70.4, -57.9, 502.0,
                                        "fast spiking"))
