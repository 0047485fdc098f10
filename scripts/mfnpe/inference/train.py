"""Train NPE, pretrain on LF data, fine-tune on HF data — with sbi's public trainer API."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sbi.inference import NPE

from mfnpe.inference.networks import NetworkSettings, SettingsDict, copy_builder
from mfnpe.inference.posterior import Posterior
from mfnpe.inference.transform import BoxTransform
from mfnpe.prior import BoxPrior

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSettings(SettingsDict):
    """Adam with early stopping on a held-out fraction (sbi's ``train`` arguments).

    batch_size : simulations per gradient step.
    learning_rate : Adam step size.
    validation_fraction : share of the data held out for early stopping.
    stop_after_epochs : epochs without a better validation loss before stopping.
    max_epochs : hard limit on epochs.
    clip_max_norm : gradient-norm clipping (None: off).
    validate_start : with a warm start (fine-tuning, a later sequential round), the
        starting weights' validation loss counts as epoch 0 of early stopping: they are
        kept unless an epoch validates better (off: the best epoch after the first).
    """

    batch_size: int = 200
    learning_rate: float = 5e-4
    validation_fraction: float = 0.1
    stop_after_epochs: int = 20
    max_epochs: int = 1000
    clip_max_norm: float | None = 5.0
    validate_start: bool = True
    section = "training"


class _NoTracker:
    """sbi tracker that records nothing (sbi's default writes TensorBoard to ./sbi-logs)."""

    log_dir = None

    def log_metric(self, name, value, step=None):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        pass


class _EpochLoggingNPE(NPE):
    """sbi's NPE trainer, logging each epoch's losses as it ends (sbi reports them only
    after training; a long pretraining would otherwise be silent in the rule's log).

    With ``validate_start`` the starting weights are scored on the validation split
    before the first epoch and compete in early stopping (sbi starts the competition
    after the first epoch, so a fine-tuning could only make a good start worse).
    """

    validate_start = False
    start_validation_loss: float | None = None

    def _run_training_loop(self, train_loader, val_loader, train_config, loss_args=None,
                           summarization_kwargs=None):
        if self.validate_start and not train_config.resume_training:
            self._neural_net.to(self._device)
            self._neural_net.eval()
            with torch.random.fork_rng(devices=[]):  # the batch order stays as without it
                self.start_validation_loss = self._validate_epoch(val_loader, loss_args)
            log.info("starting weights: validation loss %9.4f", self.start_validation_loss)
        return super()._run_training_loop(train_loader, val_loader, train_config, loss_args,
                                          summarization_kwargs)

    def _converged(self, epoch, stop_after_epochs):
        if epoch == 0 and self.start_validation_loss is not None:
            self._val_loss = self.start_validation_loss  # epoch 0 is the starting weights
        return super()._converged(epoch, stop_after_epochs)

    def _summarize_epoch(self, train_loss, val_loss, epoch_start_time, summarization_kwargs):
        super()._summarize_epoch(train_loss, val_loss, epoch_start_time, summarization_kwargs)
        log.info("epoch %4d  train loss %9.4f  validation loss %9.4f  %.2f s", self.epoch,
                 train_loss, val_loss, self._summary["epoch_durations_sec"][-1])


def _as_tensors(theta, x, prior: BoxPrior) -> tuple[torch.Tensor, torch.Tensor]:
    theta = np.asarray(theta, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[1] != prior.dim:
        raise ValueError(f"theta must be (n, {prior.dim}) for parameters {list(prior.names)}, "
                         f"got {theta.shape}")
    if x.ndim != 2 or len(x) != len(theta):
        raise ValueError(f"x must be (n, f) with n = {len(theta)} rows, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite rows: drop invalid simulations first")
    outside = ~prior.contains(theta)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows of theta lie outside the prior box")
    return torch.as_tensor(theta, dtype=torch.float32), torch.as_tensor(x, dtype=torch.float32)


def train_npe(
    theta,
    x,
    prior: BoxPrior,
    network: NetworkSettings = NetworkSettings(),
    training: TrainingSettings = TrainingSettings(),
    *,
    seed: int = 0,
    init: Posterior | None = None,
    refit_standardization: bool = False,
    feature_names: Sequence[str] | None = None,
    settings: Mapping | None = None,
) -> Posterior:
    """Train q(theta | x) on simulations ``theta`` (n, d) in the box and ``x`` (n, f).

    With ``init`` every weight starts from that posterior's network (fine-tuning); its
    z-scoring is kept unless ``refit_standardization``. ``seed`` fixes the initial
    weights, the validation split and the batch order. Each epoch's losses are logged.
    """
    if init is not None and init.prior.names != prior.names:
        raise ValueError(f"init was trained on parameters {list(init.prior.names)}, "
                         f"not {list(prior.names)}")
    theta_t, x_t = _as_tensors(theta, x, prior)
    torch.manual_seed(seed)
    transform = BoxTransform(prior)
    builder = network.builder() if init is None else copy_builder(init.net, refit_standardization)
    trainer = _EpochLoggingNPE(prior=transform.unbounded_prior(), density_estimator=builder,
                  tracker=_NoTracker(), show_progress_bars=False)
    trainer.validate_start = init is not None and training.validate_start
    trainer.append_simulations(transform.to_unbounded(theta_t), x_t)
    with contextlib.redirect_stdout(io.StringIO()):  # sbi prints its convergence note
        net = trainer.train(
            training_batch_size=training.batch_size,
            learning_rate=training.learning_rate,
            validation_fraction=training.validation_fraction,
            stop_after_epochs=training.stop_after_epochs,
            max_num_epochs=training.max_epochs,
            clip_max_norm=training.clip_max_norm,
        )
    summary = trainer.summary
    history = {key: summary[key] for key in
               ("training_loss", "validation_loss", "epoch_durations_sec")}
    best = summary["best_validation_loss"][-1]
    start = trainer.start_validation_loss
    kept_start = start is not None and min(history["validation_loss"]) >= start
    if start is not None:
        history["start_validation_loss"], history["kept_start"] = [start], [float(kept_start)]
    log.info("kept the %s of validation loss %.4f (%d epochs, %d simulations)",
             "starting weights" if kept_start else "weights of the best epoch", best,
             len(history["validation_loss"]), len(theta_t))
    return Posterior(net, prior, network, feature_names, history, settings)


def pretrain(theta_lf, x_lf, prior: BoxPrior, network: NetworkSettings = NetworkSettings(),
             training: TrainingSettings = TrainingSettings(), **kwargs) -> Posterior:
    """MF-NPE step 1: train on low-fidelity simulations (theta (n, d), x (n, f))."""
    return train_npe(theta_lf, x_lf, prior, network, training, **kwargs)


def finetune(pretrained: Posterior, theta_hf, x_hf,
             training: TrainingSettings = TrainingSettings(), **kwargs) -> Posterior:
    """MF-NPE step 2: every weight of ``pretrained`` trained further on HF simulations
    (same prior, network and, unless given, feature names)."""
    kwargs.setdefault("feature_names", pretrained.feature_names)
    return train_npe(theta_hf, x_hf, pretrained.prior, pretrained.network, training,
                     init=pretrained, **kwargs)
