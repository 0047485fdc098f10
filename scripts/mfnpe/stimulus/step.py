"""The current-step stimulus protocol (times in ms; amplitude is a model constant).

Every simulator takes a *stimulus*: any object with ``duration`` [ms], ``n_steps(dt)``,
``waveform(dt)`` ((n_steps,) float64, shared by all simulations) and
``current_scale(constants)`` ((n,) float64 per simulation), and injects the current
``current_scale[i] · waveform[k]`` [µA/cm²] during step ``k`` of simulation ``i``;
``holding_current(constants)`` ((n,) µA/cm², or None for none) is the current held
before the simulation starts, at whose steady state it starts (:mod:`mfnpe.hh.rest`). Here
the step: waveform the 0/1 mask, scale the per-simulation ``amplitude`` [µA/cm²]. A
recording's protocol in pA (:class:`mfnpe.stimulus.protocols.Protocol`) is another:
waveform in pA, scale ``100 / area`` (1 pA on A µm² is 100/A µA/cm²).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: the planning layer holds a Stimulus
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

    @property
    def rest_end(self) -> float:
        """End of the rest window of the features [ms]: the step's onset."""
        return self.t_on

    def n_steps(self, dt: float) -> int:
        """Number of integration steps of size ``dt`` [ms] covering the trace."""
        return int(round(self.duration / dt))

    def step_mask(self, dt: float) -> np.ndarray:
        """(n_steps,) float64: 1 where step k (time k·dt, start of the step) is inside the step."""
        import numpy as np

        t = np.arange(self.n_steps(dt)) * dt
        return ((t >= self.t_on - 1e-9) & (t < self.t_off - 1e-9)).astype(np.float64)

    def waveform(self, dt: float) -> np.ndarray:
        """(n_steps,) float64: the step mask, scaled per simulation by :meth:`current_scale`."""
        return self.step_mask(dt)

    def current_scale(self, constants) -> np.ndarray:
        """(n,) float64 [µA/cm²]: each simulation's ``amplitude`` constant."""
        import numpy as np

        return np.asarray(constants["amplitude"], dtype=np.float64)

    def holding_current(self, constants) -> None:
        """None: no current before the step, so every simulation starts at rest."""
        return None
