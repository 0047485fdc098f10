"""The box prior over the inferred model constants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mfnpe.hh.model import NAMES as MODEL_NAMES


@dataclass(frozen=True)
class BoxPrior:
    """Independent uniform distributions on ``[low[j], high[j]]`` for constants ``names[j]``.

    Attributes
    ----------
    names : parameter names (columns of theta); any names for a user's own simulator,
        HH model constants when built by :meth:`from_config`.
    low, high : (d,) float64 bounds in each constant's unit.
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"prior: parameter named twice in {list(self.names)}")
        low = np.asarray(self.low, dtype=float)
        high = np.asarray(self.high, dtype=float)
        if low.shape != (len(self.names),) or high.shape != low.shape:
            raise ValueError(f"prior: need one low and one high per name {list(self.names)}")
        for name, lo, hi in zip(self.names, low, high):
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(f"prior/{name}: need finite low < high, got [{lo}, {hi}]")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @classmethod
    def from_config(cls, bounds: Mapping[str, Sequence[float]]) -> "BoxPrior":
        """From the config's ``prior`` section: ``{name: [low, high]}`` (order kept).

        Every name must be a constant of the HH model (``mfnpe.hh.model.NAMES``)."""
        names = tuple(bounds)
        unknown = [name for name in names if name not in MODEL_NAMES]
        if unknown:
            raise ValueError(f"prior: unknown parameter(s) {unknown}; known: {list(MODEL_NAMES)}")
        return cls(names, [bounds[n][0] for n in names], [bounds[n][1] for n in names])

    @property
    def std(self) -> np.ndarray:
        """(d,) standard deviation of each uniform: (high - low) / sqrt(12)."""
        return (self.high - self.low) / np.sqrt(12.0)

    @property
    def dim(self) -> int:
        return len(self.names)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, d) float64 independent draws."""
        return self.low + (self.high - self.low) * rng.random((n, self.dim))

    def contains(self, theta: np.ndarray) -> np.ndarray:
        """(n,) bool: True where row ``theta[i]`` (d,) lies in the box."""
        theta = np.atleast_2d(theta)
        return ((theta >= self.low) & (theta <= self.high)).all(axis=1)
