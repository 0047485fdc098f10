"""Conditions of a recording the model cannot follow, checked at startup
(docs/recordings.md, "Startup warnings").

Every simulation starts at the rest of its constants and holds one set of constants for
every sweep (docs/method.md, "The start"). Two things in a recording break that, and
both show in the rest window of the chosen sweeps (from the start of ``window_ms``, or of
the sweep, to the first epoch: where ``rest_mean`` and ``rest_std`` are computed):

- **spontaneous firing**: spikes (peaks above ``SPIKE_THRESHOLD_MV``, the features' rule)
  in the rest window of a sweep: the cell is not at rest there;
- **baseline drift**: the rest-window means of the chosen sweeps spread over more than
  :data:`DRIFT_LIMIT_MV` (max − min): the cell's resting potential moved between sweeps
  (seal, access, run-down), which one model cannot reproduce.

:func:`recording_warnings` returns one message per finding, naming the file, the sweeps
and the numbers, and the documented choices; the workflow prints them at startup. They
are warnings: the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfnpe.recordings.ephys import open_ephys
from mfnpe.stimulus import protocols as protocol_tools
from mfnpe.simulation.features import SPIKE_THRESHOLD_MV, spike_times

DRIFT_LIMIT_MV = 5.0
"""Spread (max − min) of the chosen sweeps' rest-window means [mV] above which the
baseline is said to drift: several times the sweep-to-sweep spread of a stable cell
(0.5–2 mV in the test recordings), well below the 10–20 mV of a drifting one."""

MAX_LISTED = 24
"""Sweeps listed by name in a message at most."""

REST_FEATURES = ("rest_mean", "rest_std")
"""The features computed on the rest window."""


@dataclass(frozen=True)
class RestWindow:
    """One chosen sweep's rest window, as the features see it.

    Attributes
    ----------
    sweep : the sweep index.
    start_ms, end_ms : the rest window in sweep time [ms] (``window_ms`` start, first epoch).
    mean_mV : mean V over the window [mV] (what ``rest_mean`` is).
    spikes_ms : spike peak times in the window [ms, sweep time].
    """

    sweep: int
    start_ms: float
    end_ms: float
    mean_mV: float
    spikes_ms: tuple[float, ...]


def rest_windows(path, sweeps: Sequence[int], window_ms: Sequence[float] | None = None
                 ) -> list[RestWindow]:
    """The rest window of every sweep in ``sweeps`` of the file ``path``, cropped to
    ``window_ms`` [ms] (None: the whole sweep) as the workflow crops it."""
    found = []
    with open_ephys(Path(path)) as ephys:
        for index in sweeps:
            protocol = protocol_tools.crop(ephys.protocol(index), window_ms)
            rest_end = protocol_tools.feature_windows(protocol).rest_end  # window time
            start = float(window_ms[0]) if window_ms is not None else 0.0
            dt = 1000.0 / ephys.info(index).rate_hz  # ms
            sweep = ephys.read(index, (start, start + max(rest_end, 2 * dt)))
            # as the features: samples [0, round(rest_end / dt)), the first one if none
            voltage = sweep.voltage[:max(round(rest_end / dt), 1)]
            spikes = spike_times(voltage, dt) + sweep.time[0]
            found.append(RestWindow(int(index), start, start + rest_end,
                                    float(np.mean(voltage)), tuple(float(t) for t in spikes)))
    return found


def _choices(features: Sequence[str]) -> str:
    rest = [name for name in features if name in REST_FEATURES]
    drop = (f"drop {' and '.join(rest)} from features" if rest
            else "(the features hold no rest feature: only the start of the simulations "
                 "is affected)")
    return drop


def spontaneous_warning(path, rests: Sequence[RestWindow], features: Sequence[str]) -> str | None:
    """The message for sweeps with spikes in their rest window, or None."""
    firing = [r for r in rests if r.spikes_ms]
    if not firing:
        return None
    listed = "; ".join(
        f"sweep {r.sweep}: {len(r.spikes_ms)} spike{'s' if len(r.spikes_ms) > 1 else ''} at "
        + ", ".join(f"{t:.1f}" for t in r.spikes_ms[:5]) + (" …" if len(r.spikes_ms) > 5 else "")
        + f" ms in [{r.start_ms:g}, {r.end_ms:g}) ms" for r in firing[:MAX_LISTED])
    listed += "; …" if len(firing) > MAX_LISTED else ""
    last = max(t for r in firing for t in r.spikes_ms)
    return (f"recording {path}: spontaneous firing before the first epoch in "
            f"{len(firing)} of {len(rests)} chosen sweeps ({listed}; peaks above "
            f"{SPIKE_THRESHOLD_MV:g} mV). The simulations start at rest and are silent "
            f"there, so the rest window of these sweeps is not the model's. Choices: a "
            f"shorter rest window (stimulus/window_ms starting after {last:.1f} ms, before "
            f"the first epoch), {_choices(features)}, or other sweeps (stimulus/sweeps) "
            f"(docs/recordings.md, \"Startup warnings\")")


def drift_warning(path, rests: Sequence[RestWindow], features: Sequence[str],
                  limit_mV: float = DRIFT_LIMIT_MV) -> str | None:
    """The message when the rest-window means spread over more than ``limit_mV``, or None."""
    if len(rests) < 2:
        return None
    means = np.array([r.mean_mV for r in rests])
    low, high = rests[int(np.argmin(means))], rests[int(np.argmax(means))]
    spread = float(means.max() - means.min())
    if not spread > limit_mV:
        return None
    per_sweep = ", ".join(f"{r.sweep}: {r.mean_mV:.1f}" for r in rests[:MAX_LISTED])
    per_sweep += ", …" if len(rests) > MAX_LISTED else ""
    return (f"recording {path}: the baseline drifts across the chosen sweeps: the rest-window "
            f"mean ranges from {low.mean_mV:.1f} mV (sweep {low.sweep}) to {high.mean_mV:.1f} "
            f"mV (sweep {high.sweep}), a spread of {spread:.1f} mV > {limit_mV:g} mV (per "
            f"sweep [mV]: {per_sweep}). One set of constants rests at one potential in every "
            f"sweep. Choices: sweeps recorded close together or at one baseline "
            f"(stimulus/sweeps), {_choices(features)}, or a shorter rest window "
            f"(stimulus/window_ms) if the baseline moves within the sweeps; no inferred bias "
            f"current is available (docs/recordings.md, \"Startup warnings\")")


def recording_warnings(config: Mapping) -> list[str]:
    """Startup warnings of a config whose stimulus is a recording, after its sweeps are
    resolved (``config["stimulus"]["protocols"]``, ``mfnpe.recordings.stimulus.resolve``):
    spontaneous firing in the rest window and baseline drift across the chosen sweeps.
    Empty for the current step and for a recording without either."""
    stimulus = config["stimulus"]
    if stimulus.get("recording") is None or not stimulus.get("protocols"):
        return []
    sweeps = [int(p["sweep"]) for p in stimulus["protocols"]]
    rests = rest_windows(stimulus["recording"], sweeps, stimulus.get("window_ms"))
    features = list(config.get("features", ()))
    found = [spontaneous_warning(stimulus["recording"], rests, features),
             drift_warning(stimulus["recording"], rests, features)]
    return [message for message in found if message]
