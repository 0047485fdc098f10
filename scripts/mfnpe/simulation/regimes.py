"""Where a simulator is known to be wrong: checks a config can run before simulating.

Two checks, both printed at the start of a run (:func:`config_warnings`):

- :func:`clamp_error_warnings`, every approximate simulator and every channel type of the
  configured model: the simulator's mean open fraction under voltage clamp, measured
  against the exact chain per channel type and channel count (the table
  :mod:`mfnpe.hh.clamp_error_table`, written by ``tools/lf_channel_error.py``), looked up
  at each prior draw's channel counts; it names the simulator, the channel, the count
  range, the measured error and the share of the prior's draws where it matters
  (docs/method.md, "Where the approximate simulators fail");
- :func:`channel_count_warnings`, ``edge_langevin`` only: its Na open fraction and
  spontaneous firing against ``markov`` below 60 000 Na channels
  (docs/method.md, "Where edge_langevin fails").

No JAX or numba: callable at config validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mfnpe.hh import clamp_error_table
from mfnpe.hh.models import section_model
from mfnpe.prior import BoxPrior, config_entry

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
state fraction of the M chain moves in steps of 1/4 and its clipping biases it (×3.1 at
rest, measured: :func:`clamp_error_warnings`); an M channel count of 1000 needs about
27 000 µm²."""


def _range(name: str, model: Mapping[str, float], prior: Mapping[str, Sequence[float]]):
    """(low, high) of constant ``name``: its prior box (``[low, high]`` or a mapping with
    ``low``, ``high``), else its fixed value, else its default."""
    if name in prior:
        bounds = config_entry(prior[name])
        return float(bounds["low"]), float(bounds["high"])
    value = float(model.get(name, section_model(model).defaults[name]))
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
    neuron = section_model(model)
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


EXACT = ("markov", "binomial")
"""Simulators exact under a voltage clamp: ``markov``, and ``binomial``, each of whose steps
is distributed as ``markov``'s given V (docs/method.md, "Fidelities")."""

NOISELESS = ("deterministic", "current_noise")
"""Simulators without channel noise: their open fractions are the exact mean by
construction (and their SD is 0: they have no channel noise at all)."""

MEAN_ERROR = 0.2
"""A channel is warned about where the simulator's mean open fraction under a clamp is off
the exact chain's by more than this share of it ..."""

CONDUCTANCE_SHARE = 0.01
"""... and where that error, ``ḡ p |ratio − 1|``, is at least this share of the membrane
conductance ``gL + Σ ḡ p`` at the clamp voltage (so a channel that is all but closed there,
the Pospischil Na and Kd channels at rest with p ~ 1e-10, is not counted however large its
relative error)."""

MIN_SHARE = 0.01
"""... in at least this share of the prior's draws (a warning names the share)."""

PRIOR_DRAWS = 4000
"""Prior draws the share of affected draws is estimated from (a fixed seed: the same
config gives the same warning)."""

SECTION = 'docs/method.md, "Where the approximate simulators fail"'


def _measured(simulator: str, model_name: str) -> dict:
    """{(channel, label): (v [mV], p, counts (K,), ratios (K,))} of the clamp-error table."""
    found: dict = {}
    for sim, model, channel, label, v, count, p, ratio, _se, _sd in clamp_error_table.ROWS:
        if sim == simulator and model == model_name:
            entry = found.setdefault((channel, label), (v, p, [], []))
            entry[2].append(count)
            entry[3].append(ratio)
    return {key: (v, p, np.asarray(n, dtype=float), np.asarray(r, dtype=float))
            for key, (v, p, n, r) in found.items()}


def measured_ratio(counts: np.ndarray, ratios: np.ndarray, n) -> np.ndarray:
    """The measured mean open fraction / p at channel counts ``n``: log-log interpolated
    between the table's counts; below the fewest measured (4; 0 included) as there; above
    the most (10 000) the error ``ratio − 1`` falls as 1/N (from 3000 to 10 000 it falls by
    a factor 3.2–12 wherever it is above its noise; 1/N is 3.3)."""
    n = np.asarray(n, dtype=float)
    inside = np.clip(n, counts[0], counts[-1])
    ratio = np.exp(np.interp(np.log(inside), np.log(counts), np.log(np.maximum(ratios, 1e-12))))
    return np.where(n > counts[-1], 1.0 + (ratios[-1] - 1.0) * counts[-1] / np.maximum(n, 1.0),
                    ratio)


def _draws(neuron, model: Mapping, prior: Mapping) -> dict[str, np.ndarray]:
    """{constant: (PRIOR_DRAWS,)} over the prior box (fixed constants: their value)."""
    n = PRIOR_DRAWS
    values = {name: np.full(n, float(model.get(name, default)))
              for name, default in neuron.defaults.items()}
    if prior:
        box = BoxPrior.from_config(prior)
        theta = box.sample(n, np.random.default_rng(0))
        for j, name in enumerate(box.names):
            values[name] = theta[:, j]
    return values


def _span(low, high) -> str:
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def _times(ratio: float) -> str:
    if ratio < 100:
        return f"×{ratio:.2f}"
    return f"×{ratio:.0f}" if ratio < 10_000 else f"×{ratio:.1e}"


def clamp_error_warnings(simulator: str, model: Mapping[str, float],
                         prior: Mapping[str, Sequence[float]], dt: float | None = None
                         ) -> list[str]:
    """One warning per channel type of the configured model for which ``simulator``'s
    measured clamp error is large over part of the prior (empty if none).

    Parameters
    ----------
    simulator : a simulator name (``mfnpe.names.SIMULATORS``).
    model : the config's ``model`` section (``name``, fixed constants).
    prior : the config's prior box; inferred constants range over it.
    dt : the configured step [ms]; named in the warning if it is not the measured one.

    Over :data:`PRIOR_DRAWS` draws of the prior, each channel's count ``round(ḡ · area /
    2)`` looks up :func:`measured_ratio` at each measured clamp voltage (the default neuron's
    rest and −50 mV, its default kinetics); a draw is affected where the ratio is off 1 by
    more than :data:`MEAN_ERROR` and the conductance error ``ḡ p |ratio − 1|`` is at least
    :data:`CONDUCTANCE_SHARE` of ``gL + Σ ḡ p`` there. The exact simulators get none; a
    noisy simulator not measured for the model gets a warning saying so.
    """
    if simulator in EXACT:
        return []
    neuron = section_model(model)
    table = _measured(simulator, neuron.name)
    if not table:
        if simulator in NOISELESS:
            return []
        return [(f"simulator {simulator}: its channel errors are not measured for model "
                 f"{neuron.name} (run tools/lf_channel_error.py; {SECTION})")]
    values = _draws(neuron, model, prior)
    area = values["area"]
    counts = {c.name: c.channel_count(values[c.conductance], area) for c in neuron.channels}
    labels = sorted({label for _, label in table}, key=lambda s: s != "rest")
    total = {label: values["gL"] + sum(values[c.conductance] * table[(c.name, label)][1]
                                       for c in neuron.channels) for label in labels}
    where_area = _range("area", model, prior)
    messages = []
    for c in neuron.channels:
        affected = np.zeros(PRIOR_DRAWS, dtype=bool)
        for label in labels:
            v, p, grid, ratios = table[(c.name, label)]
            error = np.abs(measured_ratio(grid, ratios, counts[c.name]) - 1.0)
            share = values[c.conductance] * p * error / total[label]
            affected |= (error > MEAN_ERROR) & (share >= CONDUCTANCE_SHARE)
        if not affected.any() or affected.mean() < MIN_SHARE:
            continue
        g = _range(c.conductance, model, prior)
        low, high = (int(c.channel_count(g[i], where_area[i])) for i in (0, 1))
        fewest = max(low, int(table[(c.name, labels[0])][2][0]))
        errors, beyond = [], 0
        for label in labels:
            v, p, grid, ratios = table[(c.name, label)]
            at = _times(float(measured_ratio(grid, ratios, fewest)))
            errors.append(f"{at} ({'rest, ' if label == 'rest' else ''}{v:g} mV)")
            off = grid[np.abs(ratios - 1.0) > MEAN_ERROR]
            beyond = max(beyond, int(off.max()) if off.size else 0)
        hit = counts[c.name][affected]
        step = "" if dt is None or dt == clamp_error_table.DT else f", configured dt {dt:g} ms"
        messages.append(
            f"simulator {simulator}, {c.name} channel: under a voltage clamp its mean open "
            f"fraction is {' and '.join(errors)} the exact chain's with {fewest} channels, "
            f"more than {MEAN_ERROR:.0%} off up to {beyond} channels of the measured "
            f"{_span(int(grid[0]), int(grid[-1]))} (dt {clamp_error_table.DT:g} ms{step}); "
            f"the prior reaches {_span(low, high)} {c.name} channels ({c.conductance} "
            f"{_span(*g)} mS/cm², area {_span(*where_area)} µm²), and in {affected.mean():.0%} "
            f"of its draws ({_span(hit.min(), hit.max())} {c.name} channels) the error is more "
            f"than {MEAN_ERROR:.0%} and at least {CONDUCTANCE_SHARE:.0%} of the membrane "
            f"conductance ({SECTION})")
    return messages


CONSEQUENCE = {
    "lf": "as the LF model this bias is what fine-tuning on HF simulations corrects, but a "
          "closer LF model pretrains better",
    "hf": "as the HF model it makes the posteriors those of a wrong simulator",
}
"""What an inaccurate simulator means at each fidelity."""


def config_warnings(config: Mapping) -> list[str]:
    """:func:`channel_count_warnings` and :func:`clamp_error_warnings` for both fidelities
    of a validated config."""
    messages = []
    for fidelity in ("lf", "hf"):
        settings = config["simulators"][fidelity]
        name, model, prior = settings["name"], config["model"], config["prior"]
        found = channel_count_warnings(name, model, prior)
        found += clamp_error_warnings(name, model, prior, settings.get("dt"))
        messages += [f"simulators/{fidelity}: {m}; {CONSEQUENCE[fidelity]}" for m in found]
    return messages
