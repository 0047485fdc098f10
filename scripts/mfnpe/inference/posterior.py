"""A trained posterior q(theta | x) over a prior (``mfnpe.prior``): sample, log-prob,
save, load.

Model files (``.pt``) hold plain data only — a state dict, the builder settings, the
prior (its kind and numbers; a :class:`~mfnpe.prior.TorchPrior` only by its names and
box), the feature names, the settings the model was trained under and its training
history — so ``torch.load(path, weights_only=True)`` reads them and nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from mfnpe.inference.feature_scale import check_columns, scale_columns
from mfnpe.inference.networks import NetworkSettings
from mfnpe.inference.transform import SupportTransform
from mfnpe.io import kinds
from mfnpe.io.hdf5 import canonical, first_difference
from mfnpe.prior import BoxPrior, prior_from_spec, prior_spec

LOG_PROB_CHUNK = 10_000
"""Rows of theta per pass of the flow in ``log_prob``: bounds its memory (10^5 rows in one
pass took 0.9 GB; the truncated prior's threshold evaluates that many)."""
MODEL_KIND = kinds.MODEL


def _rng_devices(device: torch.device) -> list[int]:
    """The accelerator indices whose random state ``torch.random.fork_rng`` must save
    (none on the CPU)."""
    if device.type == "cpu":
        return []
    module = getattr(torch, device.type)
    return [device.index if device.index is not None else module.current_device()]


class ModelError(ValueError):
    """A model file is missing, truncated, of another kind or from another config."""


class Posterior:
    """q(theta | x): a conditional flow on u (theta mapped from the prior's support onto
    R^d, ``transform``), mapped back into the support.

    Attributes
    ----------
    net : sbi density estimator of u (d,) given x (f,), on ``device`` (inputs are moved
        there in batches, results come back to the CPU).
    prior : the prior; theta columns are ``prior.names``.
    network : how ``net`` was built (needed to rebuild it from a state dict).
    feature_names : (f,) names of the columns of x, or None.
    history : per-epoch ``training_loss``, ``validation_loss``, ``epoch_durations_sec``;
        after a warm start with ``validate_start``, ``start_validation_loss`` (one value)
        and ``kept_start`` ([1.0] when no epoch beat the starting weights); after
        ``learning_rate="auto"``, ``learning_rate`` (the rate kept), ``auto_learning_rates``
        and ``auto_validation_loss`` (each candidate's best validation loss, nats).
    settings : what the model was trained under (checked when loading from the workflow).
    """

    def __init__(self, net, prior, network: NetworkSettings,
                 feature_names: Sequence[str] | None = None, history: Mapping | None = None,
                 settings: Mapping | None = None, device: str | None = None):
        self.net = net.eval() if device is None else net.to(device).eval()
        self.prior = prior
        self.network = network
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.history = {k: [float(v) for v in vals] for k, vals in (history or {}).items()}
        self.settings = dict(settings or {})
        self.transform = SupportTransform(prior)
        check_columns(network.log_columns, self.x_dim)

    @property
    def x_dim(self) -> int:
        return int(self.net.condition_shape[0])

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str) -> "Posterior":
        """Move the network to ``device`` ("cpu", "cuda", ...); returns self."""
        self.net.to(device)
        return self

    def _x(self, x) -> torch.Tensor:
        """x (m, f) as the network takes it: float32, its ``log_columns`` on a log scale."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        x = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)
        if x.shape[-1] != self.x_dim:
            raise ValueError(f"x has {x.shape[-1]} features, the posterior expects {self.x_dim}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values (an invalid simulation?)")
        return scale_columns(x, self.network.log_columns)

    @torch.no_grad()
    def _log_q_u(self, theta, x) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """theta (m, d) as a tensor, its unbounded coordinates u (m, d) and the network's
        log q(u_i | x_i) (m,), :data:`LOG_PROB_CHUNK` rows at a time."""
        chunk = LOG_PROB_CHUNK
        x = self._x(x)
        theta = torch.as_tensor(np.asarray(theta, dtype=np.float32)).reshape(-1, self.prior.dim)
        u = self.transform.to_unbounded(theta)
        x = x.expand(len(u), -1)  # one x for every theta, or one per theta as given
        log_q = [self.net.log_prob(u[i:i + chunk].unsqueeze(0).to(self.device),
                                   x[i:i + chunk].to(self.device)).squeeze(0).cpu()
                 for i in range(0, len(u), chunk)]
        return theta, u, torch.cat(log_q) if log_q else torch.empty(0)

    def log_prob(self, theta, x) -> np.ndarray:
        """(m,) log q(theta_i | x_i) for theta (m, d) and x (m, f) [nats, theta units]."""
        theta, u, log_q = self._log_q_u(theta, x)
        inside = torch.as_tensor(self.prior.contains(theta.numpy().astype(np.float64)))
        log_q = log_q - self.transform.log_det_to_box(u)
        return torch.where(inside, log_q, torch.tensor(-torch.inf)).numpy().astype(np.float64)

    def log_prob_unbounded(self, theta, x) -> np.ndarray:
        """(m,) log q(u_i | x_i) at u = the unbounded coordinates of theta (m, d): the
        network's own density, without the box's Jacobian. Its maximum is a mode that
        means something; log q(theta | x) grows without bound towards the box's edges
        (d theta / d u -> 0 there), so its largest value among draws sits at an edge."""
        return self._log_q_u(theta, x)[2].numpy().astype(np.float64)

    @torch.no_grad()
    def sample(self, x, n: int, seed: int | None = None, chunk: int = 50) -> np.ndarray:
        """(n, m, d) draws from q(theta | x_i) for x (m, f); (n, d) for one x (f,).

        ``seed`` makes the draws reproducible and leaves torch's global random state as it
        was (without it, the draws continue that state); ``chunk`` observations are sampled
        at once to bound memory.
        """
        single = np.ndim(x) == 1
        x = self._x(x)
        devices = _rng_devices(self.device)
        accelerator = {} if self.device.type == "cpu" else {"device_type": self.device.type}
        with torch.random.fork_rng(devices=devices, enabled=seed is not None, **accelerator):
            if seed is not None:
                torch.manual_seed(seed)
            draws = []
            for start in range(0, len(x), chunk):
                u = self.net.sample(torch.Size((n,)),
                                    condition=x[start:start + chunk].to(self.device))
                draws.append(self.transform.to_box(u.cpu()))
        theta = torch.cat(draws, dim=1).numpy().astype(np.float64)
        return theta[:, 0] if single else theta

    def save(self, path) -> None:
        """Write the model file atomically (a killed job leaves no half-written file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        content = {
            "kind": MODEL_KIND,
            "settings": canonical(self.settings),
            "network": self.network.to_dict(),
            "param_names": list(self.prior.names),
            "low": [float(v) for v in self.prior.low],
            "high": [float(v) for v in self.prior.high],
            "prior": prior_spec(self.prior),
            "feature_names": self.feature_names,
            "x_dim": self.x_dim,
            "history": self.history,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            torch.save(content, tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    @classmethod
    def load(cls, path, expected_settings: Mapping | None = None, prior=None,
             device: str | None = None) -> "Posterior":
        """Read a model file; with ``expected_settings``, fail unless it was trained under them.

        ``prior``: needed for a model trained under a :class:`~mfnpe.prior.TorchPrior`
        (checked against the stored names and box); ``device``: where the network goes
        (default the CPU)."""
        path = Path(path)
        if not path.exists():
            raise ModelError(f"{path}: model file does not exist")
        try:
            content = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError...
            # not torch's message: it suggests weights_only=False, which runs a file's code
            raise ModelError(
                f"{path}: not a readable model file of this workflow (truncated, corrupted or "
                f"foreign: {type(err).__name__}); delete it and re-run the workflow, which "
                "trains it again. Never load it with weights_only=False: a file that is not a "
                "model may run code.") from None
        if not isinstance(content, dict) or content.get("kind") != MODEL_KIND:
            found = content.get("kind") if isinstance(content, dict) else type(content).__name__
            raise ModelError(f"{path}: expected a model file of kind {MODEL_KIND!r}, found {found!r}")
        settings = json.loads(content["settings"])
        if expected_settings is not None:
            difference = first_difference(settings, json.loads(canonical(expected_settings)))
            if difference:
                raise ModelError(f"{path} was trained under another config: {difference}")
        stored = (prior_from_spec(content["prior"]) if "prior" in content else
                  BoxPrior(tuple(content["param_names"]), content["low"], content["high"]))
        if prior is None and stored is None:
            raise ModelError(f"{path}: trained under a user's torch prior; pass it as prior=")
        if prior is not None:
            if (list(prior.names) != content["param_names"]
                    or not np.array_equal(np.asarray(prior.low, float), content["low"])
                    or not np.array_equal(np.asarray(prior.high, float), content["high"])):
                raise ModelError(f"{path}: trained on parameters {content['param_names']} in "
                                 f"[{content['low']}, {content['high']}], not the prior given")
        else:
            prior = stored
        network = NetworkSettings.from_dict(content["network"])
        net = network.builder()(torch.randn(16, prior.dim), torch.randn(16, content["x_dim"]))
        try:
            net.load_state_dict(content["state_dict"])
        except RuntimeError as err:
            raise ModelError(f"{path}: weights do not fit the network settings: {err}") from err
        return cls(net, prior, network, content["feature_names"], content["history"], settings,
                   device=device)
