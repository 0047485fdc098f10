"""Priors as torch distributions, for sbi: a user's torch distribution as a prior
(:class:`TorchPrior`) and the numpy priors of ``mfnpe.prior`` wrapped for torch
(:func:`torch_distribution`). Apart from ``mfnpe.prior`` so that the simulation jobs,
which draw from the prior, import no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mfnpe.prior import BoxPrior, _bounds, _names, _Support


def torch_distribution(prior) -> torch.distributions.Distribution:
    """``prior`` (any prior of ``mfnpe.prior`` or a :class:`TorchPrior`) as a float32 torch
    distribution of event shape (d,): sbi's BoxUniform for a uniform box."""
    if isinstance(prior, TorchPrior):
        return prior.distribution
    if isinstance(prior, BoxPrior) and all(kind == "linear" for kind in prior.scale):
        from sbi.utils import BoxUniform

        return BoxUniform(torch.as_tensor(prior.low, dtype=torch.float32),
                          torch.as_tensor(prior.high, dtype=torch.float32))
    return NumpyBacked(prior)


@dataclass(frozen=True, eq=False)
class TorchPrior(_Support):
    """A user's torch distribution of event shape (d,) with support inside the box
    ``[low, high]`` (bounds may be infinite). ``log_prob`` and ``sample`` are the
    distribution's; sampling seeds torch from ``rng`` and leaves torch's global random
    state as it was. Not saved with a model: pass it to ``Posterior.load(prior=...)``.
    """

    names: tuple[str, ...]
    distribution: torch.distributions.Distribution
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "names", _names(self.names))
        low, high = _bounds(self.names, self.low, self.high, finite=False)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        shape = tuple(self.distribution.event_shape)
        if shape != (len(self.names),):
            raise ValueError(f"prior: the distribution's event shape {shape} is not "
                             f"({len(self.names)},) for names {list(self.names)}")

    @property
    def std(self) -> np.ndarray:
        draws = self.sample(20000, np.random.default_rng(0))
        return draws.std(axis=0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(2**63 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            with torch.no_grad():
                draws = self.distribution.sample((n,)).double().numpy()
        if not self.contains(draws).all():
            raise ValueError("prior: the distribution drew outside the given [low, high]")
        return draws

    def log_prob(self, theta) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        inside = self.contains(theta)
        safe = np.where(inside[:, None], theta, np.where(np.isfinite(self.low), self.low,
                                                         np.where(np.isfinite(self.high),
                                                                  self.high, 0.0)))
        with torch.no_grad():
            value = self.distribution.log_prob(torch.as_tensor(safe, dtype=torch.float32))
        return np.where(inside, value.double().numpy(), -np.inf)


class NumpyBacked(torch.distributions.Distribution):
    """A numpy prior as a float32 torch distribution of event shape (d,) (sampling seeded
    from torch's generator, so ``torch.manual_seed`` fixes it)."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, prior):
        self.prior = prior
        super().__init__(event_shape=torch.Size((prior.dim,)), validate_args=False)

    @property
    def support(self):
        return torch.distributions.constraints.independent(
            torch.distributions.constraints.interval(
                torch.as_tensor(self.prior.low, dtype=torch.float32),
                torch.as_tensor(self.prior.high, dtype=torch.float32)), 1)

    @property
    def mean(self):
        draws = self.prior.sample(20000, np.random.default_rng(0))
        return torch.as_tensor(draws.mean(0), dtype=torch.float32)

    @property
    def variance(self):
        return torch.as_tensor(self.prior.std**2, dtype=torch.float32)

    def sample(self, sample_shape=torch.Size()):
        n = int(np.prod(sample_shape)) if len(sample_shape) else 1
        seed = int(torch.randint(2**62, (1,)).item())
        draws = self.prior.sample(n, np.random.default_rng(seed))
        return torch.as_tensor(draws, dtype=torch.float32).reshape(*sample_shape, self.prior.dim)

    def log_prob(self, value):
        flat = value.detach().cpu().double().reshape(-1, self.prior.dim).numpy()
        out = torch.as_tensor(self.prior.log_prob(flat), dtype=torch.float32)
        return out.reshape(value.shape[:-1]).to(value.device)
