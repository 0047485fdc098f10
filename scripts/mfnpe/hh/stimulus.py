"""The current-step stimulus protocol (times in ms; amplitude is a model constant)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stimulus:
    """A current step of the per-simulation ``amplitude`` [µA/cm²] on ``[t_on, t_off)``.

    Attributes
    ----------
    duration : trace length [ms].
    t_on, t_off : step onset and offset [ms], ``0 <= t_on < t_off <= duration``.
    """

    duration: float = 120.0
    t_on: float = 10.0
    t_off: float = 110.0

    def __post_init__(self):
        if not 0.0 <= self.t_on < self.t_off <= self.duration:
            raise ValueError(
                f"stimulus needs 0 <= t_on < t_off <= duration, got t_on={self.t_on}, "
                f"t_off={self.t_off}, duration={self.duration}"
            )

    def n_steps(self, dt: float) -> int:
        """Number of integration steps of size ``dt`` [ms] covering the trace."""
        return int(round(self.duration / dt))

    def step_mask(self, dt: float) -> np.ndarray:
        """(n_steps,) float64: 1 where step k (time k·dt, start of the step) is inside the step."""
        t = np.arange(self.n_steps(dt)) * dt
        return ((t >= self.t_on - 1e-9) & (t < self.t_off - 1e-9)).astype(np.float64)
