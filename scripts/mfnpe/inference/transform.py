"""The box prior's parameter space mapped onto R^d, where the flows are trained.

``u = logit((theta - low) / (high - low))`` is a bijection from the open box onto R^d, so
a flow on ``u`` mapped back by the sigmoid puts no mass outside the prior box. Under the
uniform prior each ``u_j`` is standard logistic.
"""

from __future__ import annotations

import torch
from torch.distributions import Independent, SigmoidTransform, TransformedDistribution, Uniform

from mfnpe.prior import BoxPrior

EDGE = 1e-6
"""Box fractions are clipped to [EDGE, 1 - EDGE] so that draws on the boundary stay finite."""


class BoxTransform:
    """theta (..., d) in the box <-> u (..., d) in R^d, float32 torch tensors."""

    def __init__(self, prior: BoxPrior):
        self.prior = prior
        self.low = torch.as_tensor(prior.low, dtype=torch.float32)
        self.width = torch.as_tensor(prior.high - prior.low, dtype=torch.float32)

    def to_unbounded(self, theta: torch.Tensor) -> torch.Tensor:
        fraction = ((theta - self.low) / self.width).clamp(EDGE, 1.0 - EDGE)
        return torch.logit(fraction)

    def to_box(self, u: torch.Tensor) -> torch.Tensor:
        return self.low + self.width * torch.sigmoid(u)

    def log_det_to_box(self, u: torch.Tensor) -> torch.Tensor:
        """(...,) log |d theta / d u|, summed over the d parameters."""
        log_sigmoid_slope = torch.nn.functional.logsigmoid(u) + torch.nn.functional.logsigmoid(-u)
        return (torch.log(self.width) + log_sigmoid_slope).sum(-1)

    def unbounded_prior(self) -> torch.distributions.Distribution:
        """The prior pushed to u: independent standard logistic, event shape (d,)."""
        d = self.prior.dim
        uniform = Uniform(torch.zeros(d), torch.ones(d))
        return Independent(TransformedDistribution(uniform, [SigmoidTransform().inv]), 1)
