"""What every simulator returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SimOutput:
    """Traces of ``n`` simulations sampled every ``dt``.

    Attributes
    ----------
    v : (n, T) float32 membrane potential [mV]; ``v[:, k]`` is V at time ``k * dt``
        (``v[:, 0]`` is the initial potential), ``T = round(duration / dt)``.
    dt : sampling interval = integration step [ms].
    open_na, open_k : (n, T) float32 open-channel fractions (Na ``m3h1``, K ``n4``), only
        when the simulator was asked for them (``record_open=True``), else ``None``.
    n_events : (n,) int64 channel transitions simulated (exact ``markov`` only), else ``None``.
    """

    v: np.ndarray
    dt: float
    open_na: np.ndarray | None = None
    open_k: np.ndarray | None = None
    n_events: np.ndarray | None = None
