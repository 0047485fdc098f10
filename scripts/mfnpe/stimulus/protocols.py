"""Piecewise-constant current-clamp protocols, their currents and feature windows.

A :class:`Protocol` is what a sweep's command current does over time: a holding current
and epochs at other levels (docs/recordings.md, "Protocols"). Files give it
(``mfnpe.recordings.ephys``; from a command waveform: ``mfnpe.recordings.commands``); here
it becomes the per-step current of a simulation: :func:`current_pA` and, for membrane
areas, :func:`current_density` (1 pA on A µm² is 100/A µA/cm²), and the windows of its
features (:func:`feature_windows`); :func:`to_settings` and :func:`from_settings` its
plain form in job settings.
A protocol that is no protocol raises ``ValueError``. numpy is imported where used: the
planning layer holds protocols (``mfnpe.simulation.experiment``) and imports no numerics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mfnpe.stimulus.windows import Windows, epoch_windows, passive_epoch

if TYPE_CHECKING:
    import numpy as np

TIME_EPS_MS = 1e-9
"""A step at time ``k·dt`` is inside ``[start, end)`` when ``start - eps <= k·dt < end - eps``
(as :meth:`mfnpe.stimulus.step.Stimulus.step_mask`)."""
PA_TO_UA_PER_CM2 = 100.0
"""1 pA on A µm² is ``PA_TO_UA_PER_CM2 / A`` µA/cm² (1e-12 A / (A·1e-8 cm²) = 1e-4/A A/cm²)."""


@dataclass(frozen=True)
class Epoch:
    """One level of the command current.

    Attributes
    ----------
    start : onset [ms] from the start of the sweep.
    duration : length [ms], > 0.
    amplitude : the command current during the epoch [pA] (absolute, not relative to the
        holding current).
    """

    start: float
    duration: float
    amplitude: float

    @property
    def end(self) -> float:
        """Offset [ms]: the epoch covers ``[start, end)``."""
        return self.start + self.duration


@dataclass(frozen=True)
class Protocol:
    """A sweep's command current: ``holding`` [pA] everywhere but on the ``epochs``.

    Attributes
    ----------
    duration : sweep length [ms].
    holding : holding current [pA], the level outside every epoch.
    epochs : tuple of :class:`Epoch` in time order, non-overlapping, inside
        ``[0, duration]``, none at the holding level and no two adjacent at the same level
        (:func:`make_protocol` builds that form from any list of levels).
    """

    duration: float
    holding: float
    epochs: tuple[Epoch, ...] = ()

    def __post_init__(self):
        values = [self.duration, self.holding,
                  *(x for e in self.epochs for x in (e.start, e.duration, e.amplitude))]
        if not all(math.isfinite(v) for v in values) or self.duration <= 0:
            raise ValueError(f"protocol values must be finite with duration > 0: {self}")
        end = 0.0
        for epoch in self.epochs:
            if epoch.duration <= 0 or epoch.start < end - TIME_EPS_MS:
                raise ValueError(f"epochs must have duration > 0 and not overlap: {self.epochs}")
            end = epoch.end
        if end > self.duration + TIME_EPS_MS:
            raise ValueError(f"epochs end at {end:g} ms, after the sweep ({self.duration:g} ms)")

    def level_at(self, time_ms: float) -> float:
        """The command current [pA] at ``time_ms``."""
        for epoch in self.epochs:
            if epoch.start - TIME_EPS_MS <= time_ms < epoch.end - TIME_EPS_MS:
                return epoch.amplitude
        return self.holding

    def n_steps(self, dt: float) -> int:
        """Number of integration steps of size ``dt`` [ms] covering the sweep."""
        return int(round(self.duration / dt))

    def waveform(self, dt: float) -> np.ndarray:
        """(n_steps,) float64 command current [pA] per step: a simulator's stimulus
        (:mod:`mfnpe.stimulus.step`), scaled per simulation by :meth:`current_scale`."""
        return current_pA(self, dt)

    def current_scale(self, constants) -> np.ndarray:
        """(n,) float64 [µA/cm² per pA]: ``100 / area`` of each simulation's membrane
        (``constants["area"]`` [µm²], fixed or inferred)."""
        import numpy as np

        area = np.asarray(constants["area"], dtype=np.float64)
        if not (area > 0).all():
            raise ValueError(f"membrane areas must be positive to convert pA, got {area}")
        return PA_TO_UA_PER_CM2 / area

    def holding_current(self, constants) -> np.ndarray | None:
        """(n,) float64 [µA/cm²]: the holding current on each membrane, held before the
        sweep starts, so simulations start at the steady state under it; None at 0 pA."""
        if self.holding == 0.0:
            return None
        return self.holding * self.current_scale(constants)

    def matches(self, other: Protocol, tolerance_pA: float = 1e-3,
                tolerance_ms: float = 1e-6) -> bool:
        """Whether ``other`` is the same current: durations, epoch times within
        ``tolerance_ms`` and levels within ``tolerance_pA``."""
        if (len(self.epochs) != len(other.epochs)
                or abs(self.duration - other.duration) > tolerance_ms
                or abs(self.holding - other.holding) > tolerance_pA):
            return False
        return all(abs(a.start - b.start) <= tolerance_ms
                   and abs(a.duration - b.duration) <= tolerance_ms
                   and abs(a.amplitude - b.amplitude) <= tolerance_pA
                   for a, b in zip(self.epochs, other.epochs))


def make_protocol(duration: float, holding: float,
                  levels: Sequence[tuple[float, float, float]]) -> Protocol:
    """A :class:`Protocol` from ``levels`` [(start ms, duration ms, amplitude pA)] in time
    order (gaps at the holding level): adjacent equal levels merged, holding-level ones
    dropped, zero-length ones ignored."""
    epochs: list[Epoch] = []
    for start, length, amplitude in levels:
        if length <= 0:
            continue
        amplitude = float(amplitude)
        if amplitude == holding:
            continue
        last = epochs[-1] if epochs else None
        if last is not None and last.amplitude == amplitude and abs(last.end - start) <= TIME_EPS_MS:
            epochs[-1] = Epoch(last.start, start + length - last.start, amplitude)
        else:
            epochs.append(Epoch(float(start), float(length), amplitude))
    return Protocol(float(duration), float(holding), tuple(epochs))


def current_pA(protocol: Protocol, dt: float, n_steps: int | None = None) -> np.ndarray:
    """(n_steps,) float64 command current [pA] of integration step k (time ``k * dt`` [ms]);
    ``n_steps`` defaults to ``round(duration / dt)``."""
    import numpy as np

    if n_steps is None:
        n_steps = protocol.n_steps(dt)
    t = np.arange(n_steps) * dt
    current = np.full(n_steps, protocol.holding, dtype=np.float64)
    for epoch in protocol.epochs:
        inside = (t >= epoch.start - TIME_EPS_MS) & (t < epoch.end - TIME_EPS_MS)
        current[inside] = epoch.amplitude
    return current


def current_density(protocol: Protocol, dt: float, area_um2,
                    n_steps: int | None = None) -> np.ndarray:
    """(n, n_steps) float64 current density [µA/cm²] of the protocol on membranes of
    ``area_um2`` (n,) [µm²] (a scalar gives n = 1): ``current_pA · 100 / area``."""
    import numpy as np

    areas = np.atleast_1d(np.asarray(area_um2, dtype=np.float64))
    if areas.ndim != 1 or not (areas > 0).all():
        raise ValueError(f"membrane areas must be positive, shape (n,): got {area_um2!r}")
    return current_pA(protocol, dt, n_steps)[None, :] * (PA_TO_UA_PER_CM2 / areas[:, None])


def describe(protocol: Protocol) -> str:
    """One line: holding current and each epoch as ``amplitude pA [start, end) ms``."""
    epochs = ", ".join(f"{e.amplitude:g} pA [{e.start:g}, {e.end:g}) ms" for e in protocol.epochs)
    return (f"holding {protocol.holding:g} pA over {protocol.duration:g} ms"
            + (f", epochs {epochs}" if epochs else ", no epochs"))


def crop(protocol: Protocol, window_ms: Sequence[float] | None) -> Protocol:
    """The protocol on ``window_ms`` = (start, stop) [ms] of the sweep, in window time (the
    window's start is 0); None: the whole sweep. Raises ``ValueError`` when the window is
    not inside the sweep."""
    if window_ms is None:
        return protocol
    start, stop = float(window_ms[0]), float(window_ms[1])
    if not 0 <= start < stop <= protocol.duration + TIME_EPS_MS:
        raise ValueError(f"window [{start:g}, {stop:g}] ms is not inside the "
                         f"{protocol.duration:g} ms sweep")
    def shifted(t: float) -> float:  # rounded to 1e-9 ms: 146.85 - 100 is 46.85, not 46.849999
        return round(t - start, 9)

    levels = [(shifted(max(e.start, start)),
               round(shifted(min(e.end, stop)) - shifted(max(e.start, start)), 9), e.amplitude)
              for e in protocol.epochs if e.end > start + TIME_EPS_MS and e.start < stop - TIME_EPS_MS]
    return make_protocol(shifted(stop), protocol.holding, levels)


def feature_windows(protocol: Protocol) -> Windows:
    """The windows of a sweep's features (docs/recordings.md): rest on ``[0, first epoch
    start)``, the stimulus window the longest epoch (the first of equally long ones), the
    passive features' hyperpolarising epoch (``mfnpe.stimulus.windows.passive_epoch``).
    Raises ``ValueError`` for a protocol without epochs."""
    if not protocol.epochs:
        raise ValueError(f"no epoch to compute the stimulus-window features on: {describe(protocol)}")
    epochs = [(e.start, e.duration, e.amplitude) for e in protocol.epochs]
    return Windows(*epoch_windows(epochs), passive=passive_epoch(epochs, protocol.holding))


def to_settings(protocol: Protocol, sweep: int) -> dict:
    """Sweep ``sweep``'s protocol as plain data for job settings:
    ``{"sweep", "duration" ms, "holding" pA, "epochs": [[start ms, duration ms, pA], ...]}``
    (the layout of ``mfnpe.stimulus.sweeps``)."""
    return {"sweep": int(sweep), "duration": float(protocol.duration),
            "holding": float(protocol.holding),
            "epochs": [[float(e.start), float(e.duration), float(e.amplitude)]
                       for e in protocol.epochs]}


def from_settings(settings) -> Protocol:
    """The :class:`Protocol` of :func:`to_settings`'s plain data."""
    return Protocol(float(settings["duration"]), float(settings["holding"]),
                    tuple(Epoch(*map(float, epoch)) for epoch in settings["epochs"]))
