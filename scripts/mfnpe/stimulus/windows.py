"""Where a trace's features are measured [ms]: the rest window, the stimulus window and
the hyperpolarising epoch of the passive features (docs/method.md, "Features").

:class:`Windows` is what ``mfnpe.simulation.features.compute_features`` takes besides the
step (:class:`mfnpe.stimulus.step.Stimulus`, whose own ``rest_end``, ``t_on`` and ``t_off``
serve); a recording's protocol gets its windows from :func:`epoch_windows` and
:func:`passive_epoch` (``mfnpe.stimulus.protocols.feature_windows``). Plain Python on
purpose (no numerics): the planning layer and the figures use the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PASSIVE_BASELINE_MS = 100.0
"""The passive baseline is the mean V over at most this long [ms] before the epoch (as
``mfnpe.observation.passive.BASELINE_MS``)."""
PASSIVE_MIN_BASELINE_MS = 5.0
"""A hyperpolarising epoch needs this long [ms] at the holding current before it
(``mfnpe.observation.passive.MIN_BASELINE_MS``)."""


@dataclass(frozen=True)
class PassiveEpoch:
    """A hyperpolarising epoch of a sweep, where the passive features are measured [ms].

    Attributes
    ----------
    start, end : the epoch covers ``[start, end)``.
    current_pA : ΔI, its current minus the holding current [pA] (< 0); None: unknown
        (``input_resistance`` is then 0).
    baseline_start : the baseline is the mean V on ``[baseline_start, start)``; default
        ``start − min(start, PASSIVE_BASELINE_MS)``.
    """

    start: float
    end: float
    current_pA: float | None = None
    baseline_start: float | None = None

    def __post_init__(self):
        if self.baseline_start is None:
            object.__setattr__(self, "baseline_start",
                               self.start - min(self.start, PASSIVE_BASELINE_MS))
        if not 0.0 <= self.baseline_start <= self.start < self.end:
            raise ValueError(f"a passive epoch needs 0 <= baseline_start <= start < end: {self}")


def passive_epoch(epochs: Sequence[Sequence[float]], holding: float) -> PassiveEpoch | None:
    """The epoch of a sweep the passive features are measured on: of its epochs
    ``[(start ms, duration ms, amplitude pA)]`` in time order (absolute levels, as
    ``mfnpe.stimulus.protocols.Epoch``), the longest (the first of equally long ones)
    below the ``holding`` current [pA] with at least :data:`PASSIVE_MIN_BASELINE_MS` at the
    holding current before it (as ``mfnpe.observation.passive`` takes its pulses); its
    baseline the last :data:`PASSIVE_BASELINE_MS` of that holding stretch at most. None
    when the sweep has none."""
    best, previous_end = None, 0.0
    for start, duration, amplitude in epochs:
        held = start - previous_end
        if (amplitude < holding and held >= PASSIVE_MIN_BASELINE_MS - 1e-9
                and (best is None or duration > best[1])):
            best = (start, duration, amplitude, start - min(held, PASSIVE_BASELINE_MS))
        previous_end = start + duration
    if best is None:
        return None
    start, duration, amplitude, baseline_start = best
    return PassiveEpoch(float(start), float(start + duration), float(amplitude - holding),
                        float(baseline_start))


@dataclass(frozen=True)
class Windows:
    """Where the features of a trace are computed [ms]: rest on ``[0, rest_end)``, the
    stimulus window on ``[t_on, t_off)``, the passive features on ``passive`` (None: no
    hyperpolarising epoch, the passive features are 0). A recording's protocol:
    ``mfnpe.stimulus.protocols.feature_windows``."""

    rest_end: float
    t_on: float
    t_off: float
    passive: PassiveEpoch | None = None


def epoch_windows(epochs: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """``(rest_end, t_on, t_off)`` [ms] of a sweep's features from its epochs
    ``[(start ms, duration ms, ...)]`` in time order: rest on ``[0, first start)``, the
    stimulus window the longest epoch (the first of equally long ones). The one rule
    (``mfnpe.stimulus.protocols.feature_windows``, the figures). ``ValueError`` if none."""
    if not epochs:
        raise ValueError("no epoch to compute the stimulus-window features on")
    longest = max(epochs, key=lambda epoch: epoch[1])  # max keeps the first maximum
    return float(epochs[0][0]), float(longest[0]), float(longest[0] + longest[1])
