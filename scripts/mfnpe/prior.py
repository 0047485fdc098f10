"""Priors over the inferred parameters, each with a known support (a box, bounds may be
infinite for the non-uniform ones) that the inference maps onto R^d.

- :class:`BoxPrior`: independent uniform or log-uniform (``scale``) per parameter; the
  workflow's prior (config ``prior``: ``name: [low, high]`` or ``{low, high, scale}``).
- :class:`TruncatedNormalPrior`: independent normals truncated to ``[low, high]``.
- a user's torch distribution: ``mfnpe.inference.TorchPrior`` (kept with the torch code,
  so that the simulation jobs, which draw from the prior, import no torch).

Every prior has ``names``, ``dim``, ``low``, ``high`` (d,), ``scale`` (d,) ("linear" or
"log": how ``mfnpe.inference.transform`` maps it), ``std`` (d,), ``sample(n, rng)``
(n, d), ``log_prob(theta)`` (n,) [nats, theta units] and ``contains(theta)`` (n,);
``mfnpe.inference.priors.torch_distribution`` gives any of them to torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

SCALES = ("linear", "log")


def _names(names) -> tuple[str, ...]:
    names = tuple(names)
    if len(set(names)) != len(names):
        raise ValueError(f"prior: parameter named twice in {list(names)}")
    return names


def _bounds(names, low, high, finite: bool) -> tuple[np.ndarray, np.ndarray]:
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    if low.shape != (len(names),) or high.shape != low.shape:
        raise ValueError(f"prior: need one low and one high per name {list(names)}")
    for name, lo, hi in zip(names, low, high):
        if np.isnan(lo) or np.isnan(hi) or not lo < hi or (finite and not
                                                          (np.isfinite(lo) and np.isfinite(hi))):
            raise ValueError(f"prior/{name}: need {'finite ' if finite else ''}low < high, "
                             f"got [{lo}, {hi}]")
    return low, high


class _Support:
    """Shared by the priors: the support box and its checks."""

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def scale(self) -> tuple[str, ...]:
        return ("linear",) * self.dim

    def contains(self, theta: np.ndarray) -> np.ndarray:
        """(n,) bool: True where row ``theta[i]`` (d,) lies in the support box."""
        theta = np.atleast_2d(theta)
        return ((theta >= self.low) & (theta <= self.high)).all(axis=1)


@dataclass(frozen=True)
class BoxPrior(_Support):
    """Independent distributions on ``[low[j], high[j]]`` for constants ``names[j]``:
    uniform (``scale[j] == "linear"``, the default) or log-uniform (``"log"``: log theta_j
    uniform on [log low, log high], needs low > 0).

    Attributes
    ----------
    names : parameter names (columns of theta); any names for a user's own simulator,
        HH model constants when built by :meth:`from_config`.
    low, high : (d,) float64 bounds in each constant's unit.
    scale : (d,) "linear" or "log" per parameter (None: all linear).
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    scale: tuple[str, ...] | None = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "names", _names(self.names))
        low, high = _bounds(self.names, self.low, self.high, finite=True)
        scale = ("linear",) * len(self.names) if self.scale is None else tuple(self.scale)
        if len(scale) != len(self.names) or not set(scale) <= set(SCALES):
            raise ValueError(f"prior: scale needs one of {SCALES} per name {list(self.names)}, "
                             f"got {scale}")
        for name, lo, kind in zip(self.names, low, scale):
            if kind == "log" and not lo > 0:
                raise ValueError(f"prior/{name}: a log-uniform prior needs low > 0, got {lo}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "scale", scale)

    @classmethod
    def from_config(cls, bounds: Mapping[str, Sequence[float] | Mapping]) -> "BoxPrior":
        """From the config's ``prior`` section (order kept): ``{name: [low, high]}``
        (uniform) or ``{name: {low: .., high: .., scale: linear|log}}``. The names are
        the model's to check (the config check; ``mfnpe.hh.model.constants_table``)."""
        names = tuple(bounds)
        entries = [config_entry(bounds[n]) for n in names]
        return cls(names, [e["low"] for e in entries], [e["high"] for e in entries],
                   tuple(e["scale"] for e in entries))

    @property
    def _log(self) -> np.ndarray:
        return np.array([kind == "log" for kind in self.scale])

    @property
    def _log_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(d,) bounds of each parameter's sampling coordinate: log theta where log-uniform."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.where(self._log, np.log(self.low), self.low),
                    np.where(self._log, np.log(self.high), self.high))

    @property
    def std(self) -> np.ndarray:
        """(d,) standard deviation of each parameter: (high - low) / sqrt(12) if uniform."""
        std = (self.high - self.low) / np.sqrt(12.0)
        if self._log.any():
            lo, hi = self._log_bounds
            width = np.where(self._log, hi - lo, 1.0)
            mean = (self.high - self.low) / width
            second = (self.high**2 - self.low**2) / (2 * width)
            std = np.where(self._log, np.sqrt(np.maximum(second - mean**2, 0.0)), std)
        return std

    def to_unit(self, theta) -> np.ndarray:
        """(n, d) theta mapped onto the unit cube, through log theta where log-uniform: the
        coordinates in which the prior is uniform."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lo, hi = self._log_bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(self._log, np.log(np.where(self._log, theta, 1.0)), theta)
        return (w - lo) / (hi - lo)

    def from_unit(self, z) -> np.ndarray:
        """(n, d) theta of unit-cube coordinates z (the inverse of :meth:`to_unit`)."""
        z = np.atleast_2d(np.asarray(z, dtype=float))
        lo, hi = self._log_bounds
        w = lo + (hi - lo) * z
        w[:, self._log] = np.exp(w[:, self._log])  # only there: exp(3000 ms) would overflow
        return w.clip(self.low, self.high)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, d) float64 independent draws: uniform in :meth:`to_unit`'s coordinates."""
        return self.from_unit(rng.random((n, self.dim)))

    def log_prob(self, theta) -> np.ndarray:
        """(n,) log density of rows theta (n, d) [nats, theta units]; -inf outside."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lo, hi = self._log_bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(self._log, -np.log(theta * (hi - lo)), -np.log(hi - lo))
        return np.where(self.contains(theta), per.sum(axis=1), -np.inf)

    def to_config(self) -> dict:
        """The config's ``prior`` section: list form for uniform parameters."""
        return {name: ([float(lo), float(hi)] if kind == "linear" else
                       {"low": float(lo), "high": float(hi), "scale": kind})
                for name, lo, hi, kind in zip(self.names, self.low, self.high, self.scale)}


def config_entry(bounds: Sequence[float] | Mapping) -> dict:
    """One parameter of the config's ``prior`` section as ``{low, high, scale}``:
    ``[low, high]`` is uniform, a mapping's ``scale`` defaults to "linear"."""
    if isinstance(bounds, Mapping):
        unknown = sorted(set(bounds) - {"low", "high", "scale"})
        if unknown or "low" not in bounds or "high" not in bounds:
            raise ValueError(f"prior: need {{low, high[, scale]}}, got {dict(bounds)}")
        return {"low": bounds["low"], "high": bounds["high"],
                "scale": bounds.get("scale", "linear")}
    low, high = bounds
    return {"low": low, "high": high, "scale": "linear"}


@dataclass(frozen=True)
class TruncatedNormalPrior(_Support):
    """Independent N(loc[j], sd[j]^2) truncated to ``[low[j], high[j]]`` (a bound may be
    infinite: a half-truncated or plain normal).

    loc, sd, low, high : (d,) in each parameter's unit.
    """

    names: tuple[str, ...]
    loc: np.ndarray
    sd: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "names", _names(self.names))
        low, high = _bounds(self.names, self.low, self.high, finite=False)
        loc = np.broadcast_to(np.asarray(self.loc, dtype=float), low.shape).copy()
        sd = np.broadcast_to(np.asarray(self.sd, dtype=float), low.shape).copy()
        if not (np.isfinite(loc).all() and (sd > 0).all() and np.isfinite(sd).all()):
            raise ValueError(f"prior: need finite loc and sd > 0, got {loc}, {sd}")
        for name, value in zip(("low", "high", "loc", "sd"), (low, high, loc, sd)):
            object.__setattr__(self, name, value)

    @property
    def _scipy(self):
        from scipy import stats

        return stats.truncnorm((self.low - self.loc) / self.sd, (self.high - self.loc) / self.sd,
                               loc=self.loc, scale=self.sd)

    @property
    def std(self) -> np.ndarray:
        return np.asarray(self._scipy.std(), dtype=float)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, d) float64 independent draws (inverse CDF)."""
        draws = self._scipy.ppf(rng.random((n, self.dim)))
        return np.clip(draws, self.low, self.high)

    def log_prob(self, theta) -> np.ndarray:
        """(n,) log density [nats, theta units]; -inf outside the support."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        return self._scipy.logpdf(theta).sum(axis=1)


def prior_spec(prior) -> dict:
    """Plain data describing ``prior`` for a model file (weights_only-safe); a
    torch prior (``mfnpe.inference.TorchPrior``) is described by its names and box only."""
    spec = {"names": list(prior.names), "low": [float(v) for v in prior.low],
            "high": [float(v) for v in prior.high]}
    if isinstance(prior, BoxPrior):
        return {"kind": "box", **spec, "scale": list(prior.scale)}
    if isinstance(prior, TruncatedNormalPrior):
        return {"kind": "truncated_normal", **spec, "loc": [float(v) for v in prior.loc],
                "sd": [float(v) for v in prior.sd]}
    return {"kind": "torch", **spec}


def prior_from_spec(spec: Mapping):
    """The prior of :func:`prior_spec` (None for a torch prior: it is not stored)."""
    kind = spec["kind"]
    if kind == "box":
        return BoxPrior(tuple(spec["names"]), spec["low"], spec["high"], tuple(spec["scale"]))
    if kind == "truncated_normal":
        return TruncatedNormalPrior(tuple(spec["names"]), spec["loc"], spec["sd"], spec["low"],
                                    spec["high"])
    return None
