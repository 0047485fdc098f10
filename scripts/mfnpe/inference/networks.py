"""Density-estimator settings and builders (sbi's ``posterior_nn``, its embedding nets)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

import torch
from sbi.neural_nets import posterior_nn
from sbi.neural_nets.embedding_nets import CausalCNNEmbedding, CNNEmbedding, FCEmbedding

from mfnpe.inference.sbi_internals import refit_standardizers, x_standardization_mismatch
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
    z_score_x, z_score_theta : "independent" or "none" ("structured" for x: one mean and
        SD over all features, for raw series): standardise inputs inside the net.
    embedding : a net between (z-scored) x (f,) and the flow, one of :data:`EMBEDDINGS`
        ("identity": none; "fc" sbi's FCEmbedding; "cnn" CNNEmbedding and "causal_cnn"
        CausalCNNEmbedding, 1-d convolutions over x as one series); it is trained with the
        flow, pretrained on LF data and fine-tuned on HF data with every other weight.
    embedding_options : keyword arguments of that sbi class besides its input size (e.g.
        ``{"output_dim": 8, "num_layers": 2, "num_hiddens": 32}`` for "fc").
    log_columns : columns of x (0-based) that go through the signed log
        sign(x)·log(1 + |x|) before the z-scoring, for features spanning decades
        (:mod:`mfnpe.inference.feature_scale`); empty: none.
    """

    model: str = "nsf"
    hidden_features: int = 50
    num_transforms: int = 5
    num_bins: int = 10
    z_score_x: str = "independent"
    z_score_theta: str = "independent"
    embedding: str = "identity"
    embedding_options: Mapping = field(default_factory=dict)
    log_columns: Sequence[int] = ()
    section = "network"

    def __post_init__(self):
        if self.model not in DENSITY_ESTIMATORS:
            raise ValueError(f"network: unknown model {self.model!r}; known: "
                             f"{list(DENSITY_ESTIMATORS)}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"network: unknown embedding {self.embedding!r}; known: "
                             f"{list(EMBEDDINGS)}")
        object.__setattr__(self, "embedding_options", dict(self.embedding_options or {}))
        columns = tuple(int(c) for c in self.log_columns or ())
        if any(c < 0 for c in columns) or len(set(columns)) != len(columns):
            raise ValueError(f"network: log_columns must be distinct column indices >= 0, got "
                             f"{list(self.log_columns)}")
        object.__setattr__(self, "log_columns", tuple(sorted(columns)))
        if self.embedding == "identity" and self.embedding_options:
            raise ValueError("network: embedding_options need an embedding")

    def to_dict(self) -> dict:
        """The settings as plain data; the embedding keys and log_columns only when there
        are any (so a network without them reads as before)."""
        settings = asdict(self)
        if self.embedding == "identity":
            del settings["embedding"], settings["embedding_options"]
        if self.log_columns:
            settings["log_columns"] = list(self.log_columns)
        else:
            del settings["log_columns"]
        return settings

    def embedding_net(self, x_dim: int) -> torch.nn.Module:
        """The untrained embedding net of x (f = ``x_dim``,)."""
        if self.embedding == "identity":
            return torch.nn.Identity()
        return EMBEDDINGS[self.embedding](x_dim, **self.embedding_options)

    def builder(self) -> Callable[[torch.Tensor, torch.Tensor], torch.nn.Module]:
        """sbi builder: ``(u batch (n, d), x batch (n, f)) -> untrained flow``."""
        options = dict(hidden_features=self.hidden_features, num_transforms=self.num_transforms,
                       z_score_x=self.z_score_x, z_score_theta=self.z_score_theta)
        if self.model in SPLINE_ESTIMATORS:
            options["num_bins"] = self.num_bins
        if self.embedding == "identity":
            return posterior_nn(model=self.model, **options)

        def build(batch_u: torch.Tensor, batch_x: torch.Tensor) -> torch.nn.Module:
            embedding = self.embedding_net(batch_x.shape[-1])
            return posterior_nn(model=self.model, embedding_net=embedding, **options)(
                batch_u, batch_x)

        return build


EMBEDDINGS: dict[str, Callable[..., torch.nn.Module]] = {
    "identity": lambda x_dim: torch.nn.Identity(),
    "fc": lambda x_dim, **options: FCEmbedding(input_dim=x_dim, **options),
    "cnn": lambda x_dim, **options: CNNEmbedding(input_shape=(x_dim,), **options),
    "causal_cnn": lambda x_dim, **options: CausalCNNEmbedding(input_shape=(x_dim,), **options),
}
"""Embedding nets by name: ``(f, **options) -> nn.Module`` mapping x (n, f) to (n, k)."""

STANDARDIZATIONS = ("auto", "keep", "x", "x_and_theta")
"""Fine-tuning's z-scoring: decide from the HF data (keep, or refit x when the HF features
are off the LF z-scoring), keep the pretrained one, refit that of x to the HF data, or
refit that of x and of u (docs/library.md, "Standardisation when fine-tuning")."""
AUTO_SHIFT = 0.5
"""``auto`` refits x when some HF feature's mean is more than this many LF SDs (and 3
standard errors, ``3/√n``) from the LF mean ..."""
AUTO_LOG_SCALE = math.log(1.5)
"""... or its SD more than 1.5x (and 3 standard errors of a log SD, ``3/√(2n)``) off the
LF SD."""


def standardization_option(value) -> str:
    """One of :data:`STANDARDIZATIONS`; the former boolean ``refit_standardization``:
    False is "keep", True "x_and_theta"."""
    if value is False or value is None:
        return "keep"
    if value is True:
        return "x_and_theta"
    if value not in STANDARDIZATIONS:
        raise ValueError(f"standardization: unknown option {value!r}; known: "
                         f"{list(STANDARDIZATIONS)} (or a boolean)")
    return value


def auto_refits_x(shift: float, log_scale: float, n: int) -> bool:
    """``auto``'s rule: refit x's z-scoring when the HF batch of ``n`` simulations is off
    it by a ``shift`` [LF SDs] or ``log_scale`` (:func:`x_standardization_mismatch`) that
    is both large (:data:`AUTO_SHIFT`, :data:`AUTO_LOG_SCALE`) and clear of sampling noise
    (3 standard errors). NaN (no z-scoring of x to compare with) never refits."""
    return (shift > max(AUTO_SHIFT, 3.0 / math.sqrt(n))
            or log_scale > max(AUTO_LOG_SCALE, 3.0 / math.sqrt(2.0 * n)))


def copy_builder(
    pretrained: torch.nn.Module, refit_standardization="auto"
) -> Callable[[torch.Tensor, torch.Tensor], torch.nn.Module]:
    """sbi builder returning a CPU copy of ``pretrained`` (the supported way to fine-tune).

    ``refit_standardization`` (:func:`standardization_option`): "x" refits the copy's
    z-scoring of x, "x_and_theta" that of x and u, to the batch sbi passes (the new
    training data); "auto" refits x when :func:`auto_refits_x` says so. Every other weight
    is kept. The builder's ``decision`` attribute holds what its last call measured and
    did: ``{"x_shift", "x_log_scale", "refit_x"}``.
    """
    which = standardization_option(refit_standardization)

    def build(batch_u: torch.Tensor, batch_x: torch.Tensor) -> torch.nn.Module:
        net = copy.deepcopy(pretrained).to("cpu")
        shift, log_scale = x_standardization_mismatch(net, batch_x.cpu())
        refit = which
        if which == "auto":
            refit = "x" if auto_refits_x(shift, log_scale, batch_x.shape[0]) else "keep"
        if refit != "keep":
            refit_standardizers(net, batch_u.cpu(), batch_x.cpu(), theta=refit == "x_and_theta")
        build.decision = {"x_shift": shift, "x_log_scale": log_scale,
                          "refit_x": float(refit != "keep")}
        return net

    build.decision = {}
    return build
