"""Evaluate a posterior on a held-out test set and store the result as HDF5."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfnpe.evaluation import metrics
from mfnpe.io import kinds
from mfnpe.io.hdf5 import ShardError, atomic_write, canonical, check_file, open_file, read_dataset, read_names

EVAL_KIND = kinds.EVALUATION


@dataclass
class Evaluation:
    """One model on the test set (m valid test simulations, d parameters).

    log_prob : (m,) log q(theta_i | x_i) [nats, theta units].
    theta : (m, d) true parameters.
    post_mean, post_sd : (m, d) posterior mean and SD from ``n_samples`` draws.
    ranks : (m, d) SBC ranks of the true theta among the draws (0..n_samples).
    tarp_coverage : (m,) TARP coverage of the true theta by the draws, in [0, 1].
    samples : (k, n_samples, d) draws kept for the first k test observations (pairplots).
    metrics : scalar summaries (nltp with interval, nrmse, contraction, SBC and TARP KS,
        calibration_pass 1.0 / 0.0...).
    run : method, n_lf, n_hf, seed.
    """

    log_prob: np.ndarray
    theta: np.ndarray
    post_mean: np.ndarray
    post_sd: np.ndarray
    ranks: np.ndarray
    tarp_coverage: np.ndarray
    samples: np.ndarray
    param_names: list[str]
    n_samples: int
    metrics: dict
    run: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def evaluate_posterior(posterior, theta: np.ndarray, x: np.ndarray, n_samples: int,
                       keep: int, seed: int, level: float) -> Evaluation:
    """NLTP, NRMSE, contraction, SBC and TARP of ``posterior`` on test pairs theta (m, d),
    x (m, f), and whether it passes the calibration tests at family-wise ``level``.

    ``keep`` observations' draws are stored for pairplots; ``seed`` fixes the draws and
    the TARP references."""
    prior = posterior.prior
    log_prob = posterior.log_prob(theta, x)
    samples = posterior.sample(x, n_samples, seed=seed)  # (S, m, d)
    ranks = metrics.sbc_ranks(samples, theta)
    ks_stat, ks_p = metrics.sbc_ks(ranks, n_samples)
    coverage = metrics.tarp(samples, theta, prior.low, prior.high, seed=[seed, 1])  # own stream
    _, tarp_p = metrics.tarp_ks(coverage, n_samples)
    tarp_atc = metrics.tarp_atc(*metrics.tarp_curve(coverage))
    nrmse = metrics.nrmse(samples, theta, prior.high - prior.low)
    contraction = metrics.contraction(samples, prior.std)
    mean, low, high = metrics.nltp(log_prob)
    summary = {"nltp": mean, "nltp_low": low, "nltp_high": high, "n_test": int(len(theta)),
               "nrmse": float(nrmse.mean()), "contraction": float(contraction.mean()),
               "sbc_ks_max": float(ks_stat.max()), "sbc_p_min": float(ks_p.min())}
    for j, name in enumerate(prior.names):
        summary[f"nrmse_{name}"] = float(nrmse[j])
        summary[f"contraction_{name}"] = float(contraction[j])
        summary[f"sbc_p_{name}"] = float(ks_p[j])
    failures = metrics.calibration_failures(dict(zip(prior.names, ks_p)), tarp_p, tarp_atc, level)
    summary.update(tarp_atc=tarp_atc, tarp_p=tarp_p, calibration_pass=float(not failures))
    return Evaluation(log_prob, np.asarray(theta, float), samples.mean(axis=0),
                      samples.std(axis=0, ddof=1), ranks, coverage,
                      np.swapaxes(samples[:, :keep], 0, 1), list(prior.names), n_samples, summary)


def write_evaluation(path, evaluation: Evaluation) -> None:
    def write(handle):
        handle.attrs["kind"] = EVAL_KIND
        handle.attrs["settings"] = canonical(evaluation.settings)
        handle.attrs["param_names"] = json.dumps(evaluation.param_names)
        handle.attrs["metrics"] = canonical(evaluation.metrics)
        handle.attrs["run"] = canonical(evaluation.run)
        handle.attrs["n_samples"] = evaluation.n_samples
        for name in ("log_prob", "theta", "post_mean", "post_sd", "ranks", "tarp_coverage",
                     "samples"):
            handle.create_dataset(name, data=getattr(evaluation, name))

    atomic_write(path, write)


def read_evaluation(path, expected_settings=None) -> Evaluation:
    """Read and check an evaluation file (kind, settings if given, shapes)."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, EVAL_KIND, expected_settings)
        names = read_names(handle, path, "param_names")
        arrays = {name: read_dataset(handle, path, name, ndim) for name, ndim in
                  (("log_prob", 1), ("theta", 2), ("post_mean", 2), ("post_sd", 2),
                   ("ranks", 2), ("tarp_coverage", 1), ("samples", 3))}
        summary = json.loads(handle.attrs["metrics"])
        run = json.loads(handle.attrs["run"])
        n_samples = int(handle.attrs["n_samples"])
    m, d = len(arrays["log_prob"]), len(names)
    for name in ("theta", "post_mean", "post_sd", "ranks"):
        if arrays[name].shape != (m, d):
            raise ShardError(f"{path}: {name} has shape {arrays[name].shape}, expected {(m, d)}")
    if arrays["tarp_coverage"].shape != (m,):
        raise ShardError(f"{path}: tarp_coverage has shape {arrays['tarp_coverage'].shape}, "
                         f"expected {(m,)}")
    return Evaluation(**arrays, param_names=names, n_samples=n_samples, metrics=summary,
                      run=run, settings=settings)
