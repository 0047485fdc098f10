"""What every simulator returns."""

from __future__ import annotations

from collections.abc import Sequence
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
    open_na, open_k : (n, T) float32 open-channel fractions of the model's first two
        channels (classic: Na ``m3h1``, K ``n4``; Pospischil: Na, Kd), only when the
        simulator was asked for them (``record_open=True``), else ``None``.
    n_events : (n,) int64 channel transitions simulated (exact ``markov`` only), else ``None``.
    open : {channel name: (n, T) float32} every channel's open fraction (``record_open``),
        else ``None``.
    """

    v: np.ndarray
    dt: float
    open_na: np.ndarray | None = None
    open_k: np.ndarray | None = None
    n_events: np.ndarray | None = None
    open: dict[str, np.ndarray] | None = None

    @classmethod
    def of(cls, v, dt, channels: Sequence[str], opens: Sequence[np.ndarray] | None,
           n_events=None) -> SimOutput:
        """The output with per-channel open fractions ``opens`` (order ``channels``) or None."""
        if opens is None:
            return cls(v=v, dt=dt, n_events=n_events)
        opens = list(opens)
        return cls(v=v, dt=dt, open_na=opens[0], open_k=opens[1] if len(opens) > 1 else None,
                   n_events=n_events, open=dict(zip(channels, opens, strict=True)))
