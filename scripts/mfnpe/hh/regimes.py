"""Where a simulator is known to be wrong: checks a config can run before simulating.

:func:`channel_count_warnings` names the simulator, the area and the channel numbers when
a configured model reaches channel counts where the simulator is known to fail
(docs/method.md, "Where edge_langevin fails"). No JAX or numba: callable at config validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mfnpe.hh.models import DEFAULT_MODEL, get_model
from mfnpe.prior import config_entry

EDGE_LANGEVIN_MIN_NA = 60_000
"""Fewest Na channels (1000 µm² at 120 mS/cm²) at which ``edge_langevin`` is trusted.
Below it fewer than ~5 Na channels are open at rest on average, and the clipping of
negative state fractions biases the open fraction up (+6% at 300 µm², +30% at 100 µm²,
x3.5 at 10 µm²); at 10–30 µm² it also fires spontaneously 23–39% more often than the
Markov chain (tools/edge_langevin_error.py). Pezo et al. (2014) recommend the exact Markov
chain below about 1000 channels of a kind."""

EDGE_LANGEVIN_MIN_CHANNELS = 1000
"""Fewest channels of any one kind at which ``edge_langevin`` is not warned about (Pezo et
al. 2014), whatever the Na count. The Pospischil models' M channel is the one this catches:
at 100 µm² the RS neuron has 4 M channels (gM 0.075 mS/cm²) and 300 Kd channels, so a
state fraction of the M chain moves in steps of 1/4 and its clipping biases it; an M
channel count of 1000 needs about 27 000 µm² (not measured beyond the classic model's Na
bias, docs/method.md, "Where edge_langevin fails")."""


def _range(name: str, model: Mapping[str, float], prior: Mapping[str, Sequence[float]]):
    """(low, high) of constant ``name``: its prior box (``[low, high]`` or a mapping with
    ``low``, ``high``), else its fixed value, else its default."""
    if name in prior:
        bounds = config_entry(prior[name])
        return float(bounds["low"]), float(bounds["high"])
    value = float(model.get(name, get_model(model.get("name", DEFAULT_MODEL)).defaults[name]))
    return value, value


def channel_count_warnings(simulator: str, model: Mapping[str, float],
                           prior: Mapping[str, Sequence[float]]) -> list[str]:
    """Warnings (empty if none) for ``simulator`` on the configured neuron.

    Parameters
    ----------
    simulator : a simulator name (``mfnpe.names.SIMULATORS``), e.g. the config's
        ``simulators.lf.name``.
    model : the config's ``model`` section (``name``, absent classic, and fixed constants;
        missing names take the model's defaults).
    prior : the config's prior box ``{name: [low, high]}``; inferred names range over it.

    The fewest channels of each kind over the box (lowest conductances and ``area``) are
    checked: Na against :data:`EDGE_LANGEVIN_MIN_NA`, every channel (the smallest count)
    against :data:`EDGE_LANGEVIN_MIN_CHANNELS`.
    """
    if simulator != "edge_langevin":
        return []
    neuron = get_model(model.get("name", DEFAULT_MODEL))
    area = _range("area", model, prior)
    lows = [_range(c.conductance, model, prior)[0] for c in neuron.channels]
    counts = [int(c.channel_count(g, area[0])) for c, g in zip(neuron.channels, lows, strict=True)]
    by_name = dict(zip((c.name for c in neuron.channels), counts, strict=True))
    n_na = by_name.get("Na", min(counts))
    smallest = min(range(len(counts)), key=counts.__getitem__)
    if n_na >= EDGE_LANGEVIN_MIN_NA and counts[smallest] >= EDGE_LANGEVIN_MIN_CHANNELS:
        return []
    where = f"{area[0]:g} µm²" if area[0] == area[1] else f"{area[0]:g}–{area[1]:g} µm²"
    named = [f"{n} {c.name}" for c, n in zip(neuron.channels, counts, strict=True)]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    froms = ", ".join(f"{c.conductance} from {g:g}"
                      for c, g in zip(neuron.channels, lows, strict=True))
    message = f"simulator edge_langevin at area {where} reaches {listed} channels ({froms} mS/cm²)"
    if n_na < EDGE_LANGEVIN_MIN_NA:
        message += (
            f", below the {EDGE_LANGEVIN_MIN_NA} "
            "Na channels where it is accurate: there it overestimates the Na open fraction at "
            "rest and fires spontaneously more often than markov (docs/method.md, \"Where "
            "edge_langevin fails\"); use markov or binomial to simulate that neuron exactly"
        )
    if counts[smallest] < EDGE_LANGEVIN_MIN_CHANNELS:
        message += (f"; its {neuron.channels[smallest].name} channel has only "
                    f"{counts[smallest]} channels, fewer than the "
                    f"{EDGE_LANGEVIN_MIN_CHANNELS} of a kind below which Pezo et al. (2014) "
                    "recommend the exact chain")
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
