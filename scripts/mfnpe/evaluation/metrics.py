"""Posterior quality metrics (docs/method.md, "Evaluation"), on numpy arrays.

Shapes: ``samples`` (S, m, d) posterior draws for m test observations; ``theta`` (m, d)
the true parameters; ``log_prob`` (m,) log q(theta_i | x_i); ``coverage`` (m,) TARP
coverage in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats

Z95 = stats.norm.ppf(0.975)


def nltp(log_prob: np.ndarray) -> tuple[float, float, float]:
    """Negative log true-parameter probability: mean of -log q, with a 95% normal interval
    over the test set ``(mean, low, high)`` [nats]."""
    values = -np.asarray(log_prob, dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("log q(theta | x) is not finite for some test points")
    mean = values.mean()
    half = Z95 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
    return float(mean), float(mean - half), float(mean + half)


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t ``level`` interval of ``values`` (e.g. a metric over seeds)."""
    values = np.asarray(values, dtype=float)
    mean = values.mean()
    if len(values) < 2:
        return float(mean), float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(mean), float(mean - half), float(mean + half)


def nrmse(samples: np.ndarray, theta: np.ndarray, width: np.ndarray) -> np.ndarray:
    """(d,) root mean squared error of the draws around the true theta, over draws and
    test points, divided by the prior width of each parameter (0 = exact)."""
    error = (samples - theta[None]) / width
    return np.sqrt(np.mean(error**2, axis=(0, 1)))


def contraction(samples: np.ndarray, prior_std: np.ndarray) -> np.ndarray:
    """(d,) posterior SD / prior SD, averaged over test points (1 = nothing learnt)."""
    return np.mean(samples.std(axis=0, ddof=1), axis=0) / prior_std


def sbc_ranks(samples: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(m, d) int: the rank of each true theta among its S draws (0..S), per parameter.

    For a calibrated posterior the ranks are uniform on 0..S (Talts et al. 2018)."""
    return (samples < theta[None]).sum(axis=0)


def sbc_ks(ranks: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Kolmogorov–Smirnov test of uniform ranks per parameter: ``(statistic (d,), p (d,))``.

    Ranks are mapped to (rank + 0.5) / (S + 1) in (0, 1)."""
    u = (np.asarray(ranks, dtype=float) + 0.5) / (n_samples + 1)
    results = [stats.kstest(u[:, j], "uniform") for j in range(u.shape[1])]
    return (np.array([r.statistic for r in results]), np.array([r.pvalue for r in results]))


def c2st(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Classifier two-sample test accuracy between draws ``a`` (n, d) and ``b`` (n, d):
    0.5 when indistinguishable, 1.0 when disjoint (sbi's c2st, 5-fold random forest)."""
    import torch
    from sbi.utils.metrics import c2st as sbi_c2st

    return float(sbi_c2st(torch.as_tensor(a, dtype=torch.float32),
                          torch.as_tensor(b, dtype=torch.float32), seed=seed))


def tarp(samples: np.ndarray, theta: np.ndarray, low: np.ndarray, high: np.ndarray,
         seed) -> np.ndarray:
    """(m,) TARP coverage (Lemos et al. 2023): for each test point, the fraction of its S
    draws closer (L2) to a reference point than the true theta is.

    Parameters are scaled to the unit box by the prior bounds ``low``, ``high`` (d,); the m
    references are ``numpy.random.default_rng(seed).random((m, d))``, uniform in that box.
    For a calibrated posterior the coverage values are Uniform(0, 1)."""
    width = np.asarray(high, float) - np.asarray(low, float)
    samples, theta = (samples - low) / width, (theta - low) / width
    references = np.random.default_rng(seed).random(theta.shape)
    sample_dist = np.linalg.norm(samples - references[None], axis=-1)  # (S, m)
    theta_dist = np.linalg.norm(theta - references, axis=-1)  # (m,)
    return (sample_dist < theta_dist[None]).mean(axis=0)


def tarp_curve(coverage: np.ndarray, n_alpha: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Expected coverage probability: ``(alpha (n_alpha,), ecp (n_alpha,))`` on an even
    grid over [0, 1], ecp = empirical CDF of the (m,) coverage values (the diagonal when
    calibrated)."""
    alpha = np.linspace(0.0, 1.0, n_alpha)
    return alpha, (np.asarray(coverage)[None] <= alpha[:, None]).mean(axis=1)


def tarp_atc(alpha: np.ndarray, ecp: np.ndarray) -> float:
    """Area between the ECP curve and the diagonal for alpha above 0.5 (sbi's check_tarp):
    0 when calibrated, > 0 underconfident (too wide), < 0 overconfident (too narrow)."""
    mid = len(alpha) // 2
    return float(((ecp[mid:] - alpha[mid:]) * (alpha[1] - alpha[0])).sum())


def tarp_ks(coverage: np.ndarray, n_samples: int) -> tuple[float, float]:
    """Kolmogorov–Smirnov test of Uniform(0, 1) TARP coverage: ``(statistic, p)``.

    Coverage k / S is mapped to (k + 0.5) / (S + 1), as SBC ranks in :func:`sbc_ks`."""
    counts = np.rint(np.asarray(coverage) * n_samples)
    statistic, p = sbc_ks(counts[:, None], n_samples)
    return float(statistic[0]), float(p[0])


def calibration_failures(sbc_p: Mapping[str, float], tarp_p: float, tarp_atc: float,
                         level: float) -> list[str]:
    """The calibration tests that fail at family-wise ``level``: each SBC KS p-value
    (per parameter name) and the TARP KS p-value against level / (d + 1) (Bonferroni).

    Returns e.g. ``["SBC gNa", "TARP overconfident"]`` (TARP's direction from the sign of
    the ATC); empty when the posterior passes."""
    threshold = level / (len(sbc_p) + 1)
    failures = [f"SBC {name}" for name, p in sbc_p.items() if p < threshold]
    if tarp_p < threshold:
        failures.append("TARP " + ("overconfident" if tarp_atc < 0 else "underconfident"))
    return failures
