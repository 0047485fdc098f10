"""Where a simulator is known to be wrong: checks a config can run before simulating.

:func:`channel_count_warnings` names the simulator, the area and the channel numbers when
a configured model reaches channel counts where the simulator is known to fail
(docs/method.md, "Where edge_langevin fails"). No JAX or numba: callable at config validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mfnpe.hh.kinetics import channel_counts
from mfnpe.hh.model import DEFAULTS
from mfnpe.prior import config_entry

EDGE_LANGEVIN_MIN_NA = 60_000
"""Fewest Na channels (1000 µm² at 120 mS/cm²) at which ``edge_langevin`` is trusted.
Below it fewer than ~5 Na channels are open at rest on average, and the clipping of
negative state fractions biases the open fraction up (+6% at 300 µm², +30% at 100 µm²,
x3.5 at 10 µm²); at 10–30 µm² it also fires spontaneously 23–39% more often than the
Markov chain (tools/edge_langevin_error.py). Pezo et al. (2014) recommend the exact Markov
chain below about 1000 channels of a kind."""


def _range(name: str, model: Mapping[str, float], prior: Mapping[str, Sequence[float]]):
    """(low, high) of constant ``name``: its prior box (``[low, high]`` or a mapping with
    ``low``, ``high``), else its fixed value, else its default."""
    if name in prior:
        bounds = config_entry(prior[name])
        return float(bounds["low"]), float(bounds["high"])
    value = float(model.get(name, DEFAULTS[name]))
    return value, value


def channel_count_warnings(simulator: str, model: Mapping[str, float],
                           prior: Mapping[str, Sequence[float]]) -> list[str]:
    """Warnings (empty if none) for ``simulator`` on the configured neuron.

    Parameters
    ----------
    simulator : a simulator name (``mfnpe.names.SIMULATORS``), e.g. the config's
        ``simulators.lf.name``.
    model : the config's fixed constants (``model``; missing names take the defaults).
    prior : the config's prior box ``{name: [low, high]}``; inferred names range over it.

    The fewest channels over the box (lowest ``gNa``, ``gK`` and ``area``) are checked.
    """
    if simulator != "edge_langevin":
        return []
    g_na, g_k, area = (_range(name, model, prior) for name in ("gNa", "gK", "area"))
    n_na, n_k = (int(x) for x in channel_counts(g_na[0], g_k[0], area[0]))
    if n_na >= EDGE_LANGEVIN_MIN_NA:
        return []
    where = f"{area[0]:g} µm²" if area[0] == area[1] else f"{area[0]:g}–{area[1]:g} µm²"
    message = (
        f"simulator edge_langevin at area {where} reaches {n_na} Na and {n_k} K channels "
        f"(gNa from {g_na[0]:g}, gK from {g_k[0]:g} mS/cm²), below the {EDGE_LANGEVIN_MIN_NA} "
        "Na channels where it is accurate: there it overestimates the Na open fraction at "
        "rest and fires spontaneously more often than markov (docs/method.md, \"Where "
        "edge_langevin fails\"); use markov or binomial to simulate that neuron exactly"
    )
    return [message]


CONSEQUENCE = {
    "lf": "as the LF model this bias is what fine-tuning on HF simulations corrects, but a "
          "closer LF model pretrains better",
    "hf": "as the HF model it makes the posteriors those of a wrong simulator",
}
"""What an inaccurate simulator means at each fidelity."""


def config_warnings(config: Mapping) -> list[str]:
    """:func:`channel_count_warnings` for both fidelities of a validated config."""
    return [
        f"simulators/{fidelity}: {message}; {CONSEQUENCE[fidelity]}"
        for fidelity in ("lf", "hf")
        for message in channel_count_warnings(config["simulators"][fidelity]["name"],
                                              config["model"], config["prior"])
    ]
