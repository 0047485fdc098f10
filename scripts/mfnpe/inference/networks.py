"""Density-estimator settings and builders (sbi's ``posterior_nn``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields

import torch
from sbi.neural_nets import posterior_nn
from sbi.utils.sbiutils import Standardize, standardizing_net, standardizing_transform

from mfnpe.names import DENSITY_ESTIMATORS, SPLINE_ESTIMATORS


class SettingsDict:
    """Dataclass settings to and from a config section (unknown keys are an error)."""

    section = "settings"

    @classmethod
    def from_dict(cls, settings: Mapping):
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"{cls.section}: unknown setting(s) {unknown}; known: {sorted(known)}")
        return cls(**settings)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NetworkSettings(SettingsDict):
    """The conditional flow q(u | x); ``u`` is theta mapped to R^d (see ``transform``).

    model : sbi density estimator, one of ``mfnpe.names.DENSITY_ESTIMATORS`` ("nsf" neural
        spline flow, "maf", "mdn", zuko's flows...).
    hidden_features, num_transforms, num_bins : flow size (num_bins: the spline flows of
        ``mfnpe.names.SPLINE_ESTIMATORS``).
    z_score_x, z_score_theta : "independent" or "none": standardise inputs inside the net.
    """

    model: str = "nsf"
    hidden_features: int = 50
    num_transforms: int = 5
    num_bins: int = 10
    z_score_x: str = "independent"
    z_score_theta: str = "independent"
    section = "network"

    def __post_init__(self):
        if self.model not in DENSITY_ESTIMATORS:
            raise ValueError(f"network: unknown model {self.model!r}; known: "
                             f"{list(DENSITY_ESTIMATORS)}")

    def builder(self) -> Callable[[torch.Tensor, torch.Tensor], torch.nn.Module]:
        """sbi builder: ``(u batch (n, d), x batch (n, f)) -> untrained flow``."""
        options = dict(hidden_features=self.hidden_features, num_transforms=self.num_transforms,
                       z_score_x=self.z_score_x, z_score_theta=self.z_score_theta)
        if self.model in SPLINE_ESTIMATORS:
            options["num_bins"] = self.num_bins
        return posterior_nn(model=self.model, **options)


def copy_builder(
    pretrained: torch.nn.Module, refit_standardization: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.nn.Module]:
    """sbi builder returning a copy of ``pretrained`` (the supported way to fine-tune).

    With ``refit_standardization`` the copy's z-scoring of u and x is refit to the batch
    sbi passes (the new training data); every other weight is kept.
    """

    def build(batch_u: torch.Tensor, batch_x: torch.Tensor) -> torch.nn.Module:
        net = copy.deepcopy(pretrained)
        if refit_standardization:
            refit_standardizers(net, batch_u, batch_x)
        return net

    return build


def refit_standardizers(net: torch.nn.Module, batch_u: torch.Tensor, batch_x: torch.Tensor) -> None:
    """Reset the flow's z-scoring of u and of x to the mean and SD of the given batches."""
    fitted = 0
    for module in net.modules():
        if isinstance(module, Standardize):
            fresh = standardizing_net(batch_x)
            module._mean.copy_(fresh._mean)
            module._std.copy_(fresh._std)
            fitted += 1
        elif type(module).__name__ == "PointwiseAffineTransform":
            fresh = standardizing_transform(batch_u)
            module._shift.copy_(fresh._shift)
            module._scale.copy_(fresh._scale)
            fitted += 1
    if fitted == 0:
        raise ValueError("refit_standardization: the network has no z-scoring layer to refit")
