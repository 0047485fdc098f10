"""Heavy-tailed features on a log scale before the network's z-scoring.

Counts, intervals, input resistances and membrane time constants span decades over a
prior: on the Pospischil RS prior of config/recording.yaml the input resistance lies
between 18 and 68 MΩ for half of the LF simulations and reaches 4550 MΩ (SD 269 MΩ), the
membrane time constant between 1.9 and 5.8 ms and reaches 3000 ms (SD 346 ms; the middle
half spans 0.01 SD; tools/feature_spread.py). z-scored as they are, the bulk of such a
feature shares a small part of one standard deviation and the flow barely resolves it
(docs/results.md, "Features on a log scale"). ``NetworkSettings.log_columns`` names the
columns of x that pass through the signed log first:

    x -> sign(x) · log(1 + |x|)

monotone, defined for every real value (a passive feature can be 0 or negative), the
identity's slope at 0. It is part of the network: training, fine-tuning, sampling and
log_prob apply it to the same columns, and a saved posterior keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def signed_log(x: torch.Tensor) -> torch.Tensor:
    """sign(x) · log(1 + |x|), elementwise (same shape and dtype)."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def check_columns(columns: Sequence[int], x_dim: int) -> None:
    """Raise ``ValueError`` unless every column index lies in [0, ``x_dim``)."""
    outside = [c for c in columns if not 0 <= c < x_dim]
    if outside:
        raise ValueError(f"network: log_columns {outside} are not columns of x, which has "
                         f"{x_dim} features")


def scale_columns(x: torch.Tensor, columns: Sequence[int]) -> torch.Tensor:
    """x (n, f) with ``columns`` through :func:`signed_log` (a new tensor; x itself when
    there are none)."""
    if not columns:
        return x
    check_columns(columns, x.shape[-1])
    scaled = x.clone()
    index = list(columns)
    scaled[..., index] = signed_log(x[..., index])
    return scaled
