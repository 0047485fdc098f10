"""Train NPE, pretrain on LF data, fine-tune on HF data — with sbi's public trainer API
(``train``, ``get_dataloaders``, ``summary``, a tracker) and one private hook, kept in
``sbi_internals``: a warm start's score as epoch 0 of early stopping."""

from __future__ import annotations

import contextlib
import io
import logging
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from sbi.inference import NPE

from mfnpe.inference.feature_scale import scale_columns
from mfnpe.inference.networks import (NetworkSettings, SettingsDict, copy_builder,
                                      standardization_option)
from mfnpe.inference.posterior import Posterior, _rng_devices
from mfnpe.inference.sbi_internals import StartScoredNPE
from mfnpe.inference.transform import SupportTransform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSettings(SettingsDict):
    """Adam with early stopping on a held-out fraction (sbi's ``train`` arguments).

    batch_size : simulations per gradient step.
    learning_rate : Adam step size, or "auto": train once at each of
        :data:`AUTO_LEARNING_RATES` from the same start, seed and validation split, and keep
        the smallest unless a larger one validates clearly better
        (:func:`choose_learning_rate`; the history records every candidate's loss). Meant
        for fine-tuning; costs one training per candidate.
    validation_fraction : share of the data held out for early stopping.
    stop_after_epochs : epochs without a better validation loss before stopping.
    max_epochs : hard limit on epochs.
    clip_max_norm : gradient-norm clipping (None: off).
    validate_start : with a warm start (fine-tuning, a later sequential round), the
        starting weights' validation loss counts as epoch 0 of early stopping: they are
        kept unless an epoch validates better (off: the best epoch after the first).
    device : where the network trains ("cpu", "cuda", "cuda:1", ...); the simulations
        stay on the CPU and go to the device batch by batch (sbi's ``data_device``). The
        trained posterior's network stays there (``Posterior.to("cpu")`` moves it).
    """

    batch_size: int = 200
    learning_rate: float = 5e-4
    validation_fraction: float = 0.1
    stop_after_epochs: int = 20
    max_epochs: int = 1000
    clip_max_norm: float | None = 5.0
    validate_start: bool = True
    device: str = "cpu"
    section = "training"

    def __post_init__(self):
        rate = self.learning_rate
        if rate != AUTO and not (isinstance(rate, numbers.Real) and not isinstance(rate, bool)
                                 and rate > 0):
            raise ValueError(f"training: learning_rate must be a number > 0 or {AUTO!r}, "
                             f"got {rate!r}")


AUTO = "auto"
"""``TrainingSettings.learning_rate`` that picks the rate from the data."""
AUTO_LEARNING_RATES = (1e-4, 5e-4, 2e-3)
"""``auto``'s candidates [Adam step size], smallest first: the first is kept unless a larger
one is clearly better (:func:`choose_learning_rate`)."""
AUTO_STANDARD_ERRORS = 3.0
"""How clearly: a larger step is taken only when its validation loss is lower than the
smallest step's by more than this many standard errors of the paired per-simulation
differences (the margin ``auto`` z-scoring asks too)."""


def choose_learning_rate(validation_losses: Mapping[float, np.ndarray]) -> float:
    """``auto``'s rule on each candidate's per-simulation validation loss [nats] ``{rate:
    (n_val,)}``, all on the same simulations, smallest rate first: the first rate, unless a
    later one's mean loss is lower by more than :data:`AUTO_STANDARD_ERRORS` standard errors
    of its paired differences with the first; of those, the lowest mean. A candidate with
    a non-finite loss never wins (if the first has one, the lowest finite mean does).

    The lowest of a few noisy validation losses alone favours the larger steps, whose
    curves swing most: at 50 HF simulations (5 held out) it kept 2e-3 where 1e-4 was 1.75
    nats better on the test set (docs/results.md, "Fine-tuning learning rate: auto")."""
    losses = {rate: np.asarray(loss, dtype=float) for rate, loss in validation_losses.items()}
    if len({loss.shape for loss in losses.values()}) > 1:
        raise ValueError("learning_rate auto: the candidates' losses must be on the same "
                         f"held-out simulations, got {[len(loss) for loss in losses.values()]}")
    finite = {rate: loss for rate, loss in losses.items() if np.isfinite(loss).all()}
    if not finite:
        raise ValueError("learning_rate auto: no candidate has a finite validation loss "
                         f"({ {rate: float(np.mean(loss)) for rate, loss in losses.items()} })")
    first = next(iter(losses))
    if first not in finite:
        return min(finite, key=lambda rate: finite[rate].mean())
    clearly_better = {}
    for rate, loss in finite.items():
        difference = loss - finite[first]
        if rate == first or len(difference) < 2:
            continue
        standard_error = difference.std(ddof=1) / np.sqrt(len(difference))
        if difference.mean() + AUTO_STANDARD_ERRORS * standard_error < 0:
            clearly_better[rate] = loss.mean()
    return min(clearly_better, key=clearly_better.get) if clearly_better else first


FINETUNING = TrainingSettings(learning_rate=1e-4)
"""Fine-tuning's default: a step 5x below training from scratch, the start being close
already (the workflow's ``inference.finetune`` default; docs/results.md gives the
evidence)."""


class _LogTracker:
    """sbi tracker (protocol ``sbi.sbi_types.Tracker``) sending each epoch's training and
    validation loss and duration to this module's log; it writes no files (sbi's default
    tracker writes TensorBoard logs to ./sbi-logs). sbi 0.27 hands it every epoch's values
    when training ends, so the lines come then, not as each epoch ends."""

    log_dir = None
    per_epoch = ("training_loss", "validation_loss", "epoch_durations_sec")

    def __init__(self):
        self._epochs: dict[int, dict[str, float]] = {}

    def log_metric(self, name, value, step=None):
        if name in self.per_epoch and step is not None:
            self._epochs.setdefault(int(step), {})[name] = float(value)

    def log_metrics(self, metrics, step=None):
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        for epoch in sorted(self._epochs):
            train, val, seconds = (self._epochs[epoch].get(k, np.nan) for k in self.per_epoch)
            log.info("epoch %4d  train loss %9.4f  validation loss %9.4f  %.2f s", epoch,
                     train, val, seconds)
        self._epochs.clear()


def _score_start(trainer: NPE, builder, training: TrainingSettings):
    """The starting weights scored as sbi scores an epoch, on the validation split that
    ``trainer.train`` draws next: (mean -log q [nats], their state dict, (n_val,) indices).

    Draws no random numbers: under ``fork_rng`` sbi's public ``get_dataloaders`` draws the
    split (and the loader its batch order) that ``train`` then draws again."""
    with torch.random.fork_rng(devices=[]):
        _, val_loader = trainer.get_dataloaders(
            training_batch_size=training.batch_size,
            validation_fraction=training.validation_fraction)
        u, x, _ = trainer.get_simulations()
        net = builder(u[trainer.train_indices], x[trainer.train_indices])
        net = net.to(training.device).eval()
        total = 0.0
        with torch.no_grad():
            for u_batch, x_batch, _ in val_loader:  # sbi's drop_last: full batches only
                u_batch, x_batch = u_batch.to(training.device), x_batch.to(training.device)
                total += net.loss(u_batch, x_batch).sum().item()
    loss = total / (len(val_loader) * val_loader.batch_size)
    return loss, net.state_dict(), trainer.val_indices.clone()


def _per_simulation_loss(trainer: NPE, net, device) -> list[float]:
    """-log q(u | x) [nats] of the trained ``net`` on each simulation of the validation split
    (n_val,), every one of them (sbi's validation loss averages full batches)."""
    u, x, _ = trainer.get_simulations()
    held_out = trainer.val_indices
    net.eval()
    with torch.no_grad():
        loss = net.loss(u[held_out].to(device), x[held_out].to(device))
    return loss.cpu().double().tolist()


def _as_tensors(theta, x, prior) -> tuple[torch.Tensor, torch.Tensor]:
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
        raise ValueError(f"{int(outside.sum())} rows of theta lie outside the prior's support")
    return torch.as_tensor(theta, dtype=torch.float32), torch.as_tensor(x, dtype=torch.float32)


def train_npe(
    theta,
    x,
    prior,
    network: NetworkSettings = NetworkSettings(),
    training: TrainingSettings = TrainingSettings(),
    *,
    seed: int = 0,
    init: Posterior | None = None,
    refit_standardization: bool | str = "auto",
    feature_names: Sequence[str] | None = None,
    settings: Mapping | None = None,
) -> Posterior:
    """Train q(theta | x) on simulations ``theta`` (n, d) inside the support of ``prior``
    (any prior of ``mfnpe.prior``) and ``x`` (n, f).

    With ``init`` every weight starts from that posterior's network (fine-tuning); its
    z-scoring is ``refit_standardization``: "auto" (default) refits that of x only when
    the new x are off it (:func:`mfnpe.inference.networks.auto_refits_x`), "keep" (or
    False) keeps it, "x" refits that of x to the new data, "x_and_theta" (or True) that of
    x and of u; the history records what "auto" measured and did. ``seed`` fixes the initial
    weights, the validation split and the batch order; torch's global random state is
    left as it was. Each epoch's losses are logged.

    A fine-tuned network's history holds ``validation_loss_per_simulation`` [nats]: the
    kept weights' loss on each held-out simulation. With ``training.learning_rate="auto"``
    every rate of :data:`AUTO_LEARNING_RATES` trains under the same ``seed`` (each
    candidate is the network that fixed rate gives, on the same validation split) and
    :func:`choose_learning_rate` picks one from those losses; the one kept has in its
    history ``learning_rate`` (its rate), ``auto_learning_rates`` and
    ``auto_validation_loss`` (each candidate's mean loss on the held-out simulations).
    """
    if init is not None and init.prior.names != prior.names:
        raise ValueError(f"init was trained on parameters {list(init.prior.names)}, "
                         f"not {list(prior.names)}")
    standardization_option(refit_standardization)
    args = (theta, x, prior, network, init, refit_standardization, feature_names, settings)
    if training.learning_rate != AUTO:
        return _seeded_train(training, seed, *args)
    if init is None:
        raise ValueError("learning_rate auto is for fine-tuning (init): it compares steps "
                         "from the same starting weights")
    candidates = {rate: _seeded_train(replace(training, learning_rate=rate), seed, *args)
                  for rate in AUTO_LEARNING_RATES}
    losses = {rate: posterior.history["validation_loss_per_simulation"]
              for rate, posterior in candidates.items()}
    rate = choose_learning_rate(losses)
    kept = candidates[rate]
    means = {r: float(np.mean(loss)) for r, loss in losses.items()}
    kept.history.update(learning_rate=[rate], auto_learning_rates=list(means),
                        auto_validation_loss=list(means.values()))
    log.info("learning rate auto: mean validation loss %s on %d simulations; kept %g",
             ", ".join(f"{loss:.4f} at {r:g}" for r, loss in means.items()),
             len(losses[rate]), rate)
    return kept


def _seeded_train(training, seed, theta, x, prior, network, init, refit_standardization,
                  feature_names, settings) -> Posterior:
    """:func:`_train` at one learning rate under ``seed``; the caller's random state stays
    untouched."""
    device = torch.device(training.device)
    accelerator = {} if device.type == "cpu" else {"device_type": device.type}
    with torch.random.fork_rng(devices=_rng_devices(device), **accelerator):
        torch.manual_seed(seed)
        return _train(theta, x, prior, network, training, init, refit_standardization,
                      feature_names, settings)


def _train(theta, x, prior, network, training, init, refit_standardization, feature_names,
           settings) -> Posterior:
    """:func:`train_npe`'s body, under its seed."""
    if init is not None and init.network.log_columns != network.log_columns:
        raise ValueError(f"init takes the log of x's columns {list(init.network.log_columns)}, "
                         f"the network settings {list(network.log_columns)}")
    theta_t, x_t = _as_tensors(theta, x, prior)
    x_t = scale_columns(x_t, network.log_columns)  # what the network sees (feature_scale)
    transform = SupportTransform(prior)
    builder = network.builder() if init is None else copy_builder(init.net, refit_standardization)
    device = {} if training.device == "cpu" else {"device": training.device}
    trainer = StartScoredNPE(prior=transform.unbounded_prior(training.device),
                             density_estimator=builder,
                             tracker=_LogTracker(), show_progress_bars=False, **device)
    trainer.append_simulations(transform.to_unbounded(theta_t), x_t,
                               **({"data_device": "cpu"} if device else {}))
    start = None
    if init is not None and training.validate_start:
        start, start_state, val_indices = _score_start(trainer, builder, training)
        trainer.start_validation_loss = start
        log.info("starting weights: validation loss %9.4f", start)
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
    kept_start = start is not None and min(history["validation_loss"]) >= start
    if start is not None:
        if not (torch.equal(trainer.val_indices, val_indices)
                and best == min(start, *history["validation_loss"])):
            raise RuntimeError("sbi's training no longer matches mfnpe.inference.sbi_internals "
                               "(another validation split, or early stopping ignored the "
                               "starting weights' score): see tests/test_inference.py")
        if kept_start:  # sbi's early stopping restored them already; made explicit here
            net.load_state_dict(start_state)
        history["start_validation_loss"], history["kept_start"] = [start], [float(kept_start)]
    if init is not None:  # what the z-scoring of x was measured and made on the new data
        history["validation_loss_per_simulation"] = _per_simulation_loss(trainer, net,
                                                                         training.device)
        history.update({key: [value] for key, value in builder.decision.items()})
        log.info("z-scoring of x: HF data off the pretrained one by %.3g SD in mean, %.3g in "
                 "log SD; %s", builder.decision["x_shift"], builder.decision["x_log_scale"],
                 "refitted" if builder.decision["refit_x"] else "kept")
    log.info("kept the %s of validation loss %.4f (%d epochs, %d simulations)",
             "starting weights" if kept_start else "weights of the best epoch", best,
             len(history["validation_loss"]), len(theta_t))
    return Posterior(net, prior, network, feature_names, history, settings)


def pretrain(theta_lf, x_lf, prior, network: NetworkSettings = NetworkSettings(),
             training: TrainingSettings = TrainingSettings(), **kwargs) -> Posterior:
    """MF-NPE step 1: train on low-fidelity simulations (theta (n, d), x (n, f))."""
    return train_npe(theta_lf, x_lf, prior, network, training, **kwargs)


def finetune(pretrained: Posterior, theta_hf, x_hf,
             training: TrainingSettings = FINETUNING, **kwargs) -> Posterior:
    """MF-NPE step 2: every weight of ``pretrained`` trained further on HF simulations
    (same prior, network and, unless given, feature names)."""
    kwargs.setdefault("feature_names", pretrained.feature_names)
    return train_npe(theta_hf, x_hf, pretrained.prior, pretrained.network, training,
                     init=pretrained, **kwargs)
