"""A prior's support mapped onto R^d, where the flows are trained.

Per parameter, with support [low, high] (``mfnpe.prior``):

- bounded, linear scale: ``u = logit((theta - low) / (high - low))``;
- bounded, log scale (log-uniform): ``u = logit((log theta - log low) / (log high - log low))``;
- only ``low`` finite: ``u = log(theta - low)``; only ``high``: ``u = -log(high - theta)``;
- unbounded: ``u = theta``.

Each is a bijection from the open support onto R, so a flow on ``u`` mapped back puts no
mass outside the prior's support. Under a uniform (log-uniform) prior each ``u_j`` is
standard logistic.
"""

from __future__ import annotations

import torch
from torch.distributions import (
    Independent,
    SigmoidTransform,
    TransformedDistribution,
    Uniform,
    constraints,
)
from torch.distributions.transforms import Transform

from mfnpe.inference.priors import torch_distribution
from mfnpe.prior import BoxPrior

EDGE = 1e-6
"""Box fractions are clipped to [EDGE, 1 - EDGE] so that draws on the boundary stay finite."""

TINY = 1e-30
"""Distances to a single finite bound are clipped to at least TINY before the log."""


class SupportTransform:
    """theta (..., d) in the prior's support <-> u (..., d) in R^d, float32 torch tensors
    (CPU)."""

    def __init__(self, prior):
        self.prior = prior
        low = torch.as_tensor(prior.low, dtype=torch.float64)
        high = torch.as_tensor(prior.high, dtype=torch.float64)
        self.log = torch.as_tensor([kind == "log" for kind in prior.scale])
        self.bounded = torch.isfinite(low) & torch.isfinite(high)
        self.lower = torch.isfinite(low) & ~torch.isfinite(high)
        self.upper = ~torch.isfinite(low) & torch.isfinite(high)
        self.linear_box = bool(self.bounded.all()) and not bool(self.log.any())
        finite_low = torch.where(torch.isfinite(low), low, torch.zeros_like(low))
        finite_high = torch.where(torch.isfinite(high), high, torch.ones_like(high))
        self.low = finite_low.float()
        self.high = finite_high.float()
        self.width = (finite_high - finite_low).float()
        log_low = torch.where(self.log, finite_low.clamp_min(TINY).log(), finite_low)
        log_high = torch.where(self.log, finite_high.clamp_min(TINY).log(), finite_high)
        self.log_low = log_low.float()
        self.log_width = (log_high - log_low).float()

    def _fraction(self, theta: torch.Tensor) -> torch.Tensor:
        fraction = (theta - self.low) / self.width
        if self.log.any():
            log_fraction = (torch.log(theta.clamp_min(TINY)) - self.log_low) / self.log_width
            fraction = torch.where(self.log, log_fraction, fraction)
        return fraction.clamp(EDGE, 1.0 - EDGE)

    def to_unbounded(self, theta: torch.Tensor) -> torch.Tensor:
        if self.linear_box:
            fraction = ((theta - self.low) / self.width).clamp(EDGE, 1.0 - EDGE)
            return torch.logit(fraction)
        u = torch.where(self.bounded, torch.logit(self._fraction(theta)), theta)
        u = torch.where(self.lower, torch.log((theta - self.low).clamp_min(TINY)), u)
        return torch.where(self.upper, -torch.log((self.high - theta).clamp_min(TINY)), u)

    def to_box(self, u: torch.Tensor) -> torch.Tensor:
        """theta from u (the name kept from the box-only version: into the support)."""
        if self.linear_box:
            return self.low + self.width * torch.sigmoid(u)
        linear = self.low + self.width * torch.sigmoid(u)
        if self.log.any():
            linear = torch.where(self.log, torch.exp(self.log_low + self.log_width
                                                     * torch.sigmoid(u)), linear)
            linear = torch.minimum(torch.maximum(linear, self.low), self.high)
        theta = torch.where(self.bounded, linear, u)
        theta = torch.where(self.lower, self.low + torch.exp(u), theta)
        return torch.where(self.upper, self.high - torch.exp(-u), theta)

    def log_det_to_box(self, u: torch.Tensor) -> torch.Tensor:
        """(...,) log |d theta / d u|, summed over the d parameters."""
        log_sigmoid_slope = torch.nn.functional.logsigmoid(u) + torch.nn.functional.logsigmoid(-u)
        if self.linear_box:
            return (torch.log(self.width) + log_sigmoid_slope).sum(-1)
        per = torch.log(self.width) + log_sigmoid_slope
        if self.log.any():
            log_theta = self.log_low + self.log_width * torch.sigmoid(u)
            per = torch.where(self.log, log_theta + torch.log(self.log_width) + log_sigmoid_slope,
                              per)
        per = torch.where(self.bounded, per, torch.zeros_like(u))
        per = torch.where(self.lower, u, per)
        per = torch.where(self.upper, -u, per)
        return per.sum(-1)

    def unbounded_prior(self, device="cpu") -> torch.distributions.Distribution | None:
        """The prior pushed to u, event shape (d,), drawing on ``device``: independent
        standard logistic for a :class:`BoxPrior` (uniform or log-uniform), else the prior
        under this map (None off the CPU: sbi's single-round NPE trains without it)."""
        d = self.prior.dim
        if isinstance(self.prior, BoxPrior):
            uniform = Uniform(torch.zeros(d, device=device), torch.ones(d, device=device))
            return Independent(TransformedDistribution(uniform, [SigmoidTransform().inv]), 1)
        if torch.device(device).type != "cpu":
            return None
        return TransformedDistribution(torch_distribution(self.prior), [_ToUnbounded(self)])


BoxTransform = SupportTransform
"""The name of the box-only version."""


class _ToUnbounded(Transform):
    """:class:`SupportTransform` as a torch transform theta -> u (event dim 1)."""

    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True

    def __init__(self, support: SupportTransform):
        super().__init__(cache_size=0)
        self.support = support

    def _call(self, theta):
        return self.support.to_unbounded(theta)

    def _inverse(self, u):
        return self.support.to_box(u)

    def log_abs_det_jacobian(self, theta, u):
        return -self.support.log_det_to_box(u)
