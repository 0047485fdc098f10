"""Posterior quality metrics and the box <-> R^d transform, against known answers (no training)."""

import numpy as np
import pytest
import torch
from scipy import stats

from mfnpe.evaluation import metrics
from mfnpe.inference.transform import BoxTransform
from mfnpe.prior import BoxPrior

torch.set_num_threads(1)


# --------------------------------------------------------------------------- NLTP


def _gaussian_log_prob(theta, mean, sigma):
    """(m,) exact log N(theta | mean, sigma^2 I) for theta, mean (m, d)."""
    d = theta.shape[1]
    return (-0.5 * d * np.log(2 * np.pi * sigma**2)
            - 0.5 * ((theta - mean) ** 2).sum(axis=1) / sigma**2)


@pytest.mark.parametrize("d, sigma", [(1, 1.0), (3, 0.2), (5, 2.5)])
def test_nltp_of_exact_gaussian_matches_entropy(d, sigma):
    """E[-log p(theta)] under theta ~ N(mu, sigma^2 I) is the entropy d/2 log(2 pi e sigma^2)."""
    rng = np.random.default_rng(d)
    m = 4000
    mean = rng.normal(size=(m, d))
    theta = mean + sigma * rng.normal(size=(m, d))
    value, low, high = metrics.nltp(_gaussian_log_prob(theta, mean, sigma))
    expected = 0.5 * d * np.log(2 * np.pi * np.e * sigma**2)
    assert low < expected < high
    assert low < value < high
    # -log p = const + chi2_d / 2 has variance d/2: half-width 1.96 sqrt(d/2) / sqrt(m)
    half = stats.norm.ppf(0.975) * np.sqrt(d / 2) / np.sqrt(m)
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)


def test_nltp_interval_covers_the_entropy_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    d, sigma, m, repeats = 2, 0.5, 200, 1000
    expected = 0.5 * d * np.log(2 * np.pi * np.e * sigma**2)
    covered = 0
    for _ in range(repeats):
        theta = sigma * rng.normal(size=(m, d))
        _, low, high = metrics.nltp(_gaussian_log_prob(theta, np.zeros((m, d)), sigma))
        covered += low < expected < high
    # binomial(1000, 0.95) has SD 0.007: 0.92..0.98 is > 4 SD wide
    assert 0.92 < covered / repeats < 0.98


def test_nltp_rejects_non_finite_log_prob():
    with pytest.raises(ValueError, match="not finite"):
        metrics.nltp(np.array([-1.0, -np.inf, -2.0]))


# --------------------------------------------------------------------------- mean_interval


def test_mean_interval_known_values():
    mean, low, high = metrics.mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # sd = sqrt(2.5), t_{0.975, 4} = 2.776445
    half = 2.776445 * np.sqrt(2.5) / np.sqrt(5)
    assert mean == pytest.approx(3.0)
    assert low == pytest.approx(3.0 - half, rel=1e-5)
    assert high == pytest.approx(3.0 + half, rel=1e-5)
    # a 90% interval is narrower: t_{0.95, 4} = 2.131847
    _, low90, high90 = metrics.mean_interval([1.0, 2.0, 3.0, 4.0, 5.0], level=0.9)
    assert high90 - low90 == pytest.approx(2 * 2.131847 * np.sqrt(0.5), rel=1e-5)
    # constant values: zero-width interval; one value: no interval
    assert metrics.mean_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    mean, low, high = metrics.mean_interval([4.0])
    assert mean == 4.0 and np.isnan(low) and np.isnan(high)


# --------------------------------------------------------------------------- nrmse, contraction


def test_nrmse_of_constructed_samples():
    theta = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]])  # (m=3, d=2)
    # draws at theta +- a (alternating) for parameter 0, exactly at theta for parameter 1
    offsets = np.array([0.3, -0.3, 0.3, -0.3])[:, None, None] * np.array([1.0, 0.0])
    samples = theta[None] + offsets  # (S=4, 3, 2)
    width = np.array([2.0, 5.0])
    np.testing.assert_allclose(metrics.nrmse(samples, theta, width), [0.15, 0.0], atol=1e-12)
    # a constant bias b with spread a: sqrt(a^2 + b^2) / width
    biased = samples + np.array([0.4, 1.0])
    np.testing.assert_allclose(metrics.nrmse(biased, theta, width),
                               [np.sqrt(0.3**2 + 0.4**2) / 2.0, 1.0 / 5.0], atol=1e-12)


def test_contraction_of_constructed_samples():
    rng = np.random.default_rng(3)
    prior = BoxPrior(("a", "b"), [0.0, -1.0], [12.0, 1.0])
    S, m = 20_000, 4
    # posterior SD 0.6 for a (test points share it), SD 0.1 * (i + 1) for b at test point i
    sd_b = 0.1 * np.arange(1, m + 1)
    samples = np.stack([0.6 * rng.normal(size=(S, m)), sd_b * rng.normal(size=(S, m))], -1)
    result = metrics.contraction(samples, prior.std)
    np.testing.assert_allclose(result, [0.6 / prior.std[0], sd_b.mean() / prior.std[1]], rtol=0.02)
    # draws from the prior itself: nothing learnt, contraction 1
    prior_draws = prior.sample(S * m, rng).reshape(S, m, 2)
    np.testing.assert_allclose(metrics.contraction(prior_draws, prior.std), [1.0, 1.0], rtol=0.02)


# --------------------------------------------------------------------------- SBC


def _conjugate_gaussian_sbc(scale=1.0, shift=0.0, m=600, S=200, seed=0):
    """theta ~ N(0, I_2), x = theta + s eps: the posterior is N(x / (1 + s^2), s^2 / (1 + s^2)).

    Draws come from N(mean + shift * sd, (scale * sd)^2): exact for scale 1, shift 0."""
    rng = np.random.default_rng(seed)
    s = 0.7
    theta = rng.normal(size=(m, 2))
    x = theta + s * rng.normal(size=(m, 2))
    post_mean = x / (1 + s**2)
    post_sd = np.sqrt(s**2 / (1 + s**2))
    samples = post_mean[None] + post_sd * (shift + scale * rng.normal(size=(S, m, 2)))
    ranks = metrics.sbc_ranks(samples, theta)
    assert ranks.shape == (m, 2) and ranks.min() >= 0 and ranks.max() <= S
    return metrics.sbc_ks(ranks, S)


def test_sbc_ranks_counts_draws_below_theta():
    samples = np.array([0.1, 0.5, 0.9, 0.3])[:, None, None]  # (S=4, m=1, d=1)
    np.testing.assert_array_equal(metrics.sbc_ranks(samples, np.array([[0.4]])), [[2]])
    np.testing.assert_array_equal(metrics.sbc_ranks(samples, np.array([[-1.0]])), [[0]])
    np.testing.assert_array_equal(metrics.sbc_ranks(samples, np.array([[2.0]])), [[4]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sbc_accepts_the_exact_posterior(seed):
    statistic, p = _conjugate_gaussian_sbc(seed=seed)
    assert statistic.shape == p.shape == (2,)
    assert (p > 0.01).all(), p


@pytest.mark.parametrize("scale, shift", [(0.5, 0.0), (1.0, 0.6), (2.0, 0.0)])
def test_sbc_rejects_overconfident_biased_or_underconfident_posteriors(scale, shift):
    _, p = _conjugate_gaussian_sbc(scale=scale, shift=shift)
    assert (p < 1e-3).all(), p


# --------------------------------------------------------------------------- TARP

TARP_LOW, TARP_HIGH = np.array([-3.0, -2.0, -4.0]), np.array([3.0, 4.0, 2.0])


def _conjugate_gaussian_draws(scale=1.0, m=500, S=200, seed=0):
    """theta ~ N(0, I_3), x = theta + 0.7 eps; draws from N(posterior mean, (scale * sd)^2),
    exact for scale 1. Returns samples (S, m, 3), theta (m, 3)."""
    rng = np.random.default_rng(seed)
    s = 0.7
    theta = rng.normal(size=(m, 3))
    x = theta + s * rng.normal(size=(m, 3))
    sd = np.sqrt(s**2 / (1 + s**2))
    return x[None] / (1 + s**2) + scale * sd * rng.normal(size=(S, m, 3)), theta


def test_tarp_matches_sbi_with_the_same_references():
    from sbi.diagnostics.tarp import _run_tarp, check_tarp

    S, seed = 97, 5  # S prime: no coverage k / S falls on sbi's bin edges j / 50
    samples, theta = _conjugate_gaussian_draws(S=S)
    coverage = metrics.tarp(samples, theta, TARP_LOW, TARP_HIGH, seed=seed)
    assert coverage.shape == (500,)
    assert coverage.min() == 0 and coverage.max() == 1  # sbi bins over [min, max]

    def unit(a):
        return torch.as_tensor((a - TARP_LOW) / (TARP_HIGH - TARP_LOW))

    references = torch.as_tensor(np.random.default_rng(seed).random(theta.shape))
    ecp_sbi, alpha_sbi = _run_tarp(unit(samples), unit(theta), references, num_bins=50)
    alpha, ecp = metrics.tarp_curve(coverage, n_alpha=51)
    np.testing.assert_allclose(alpha, alpha_sbi.numpy(), atol=1e-6)
    # sbi's ecp starts at 0; ours is the CDF at 0 (coverage exactly 0)
    np.testing.assert_allclose(ecp[1:], ecp_sbi.numpy()[1:], atol=1e-6)
    assert metrics.tarp_atc(alpha, ecp) == pytest.approx(check_tarp(ecp_sbi, alpha_sbi)[0],
                                                         abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tarp_accepts_the_exact_posterior(seed):
    samples, theta = _conjugate_gaussian_draws(seed=seed)
    coverage = metrics.tarp(samples, theta, TARP_LOW, TARP_HIGH, seed=seed)
    _, p = metrics.tarp_ks(coverage, 200)
    assert p > 0.01
    assert abs(metrics.tarp_atc(*metrics.tarp_curve(coverage))) < 0.03


@pytest.mark.parametrize("scale, direction", [(0.5, -1), (2.0, 1)])
def test_tarp_rejects_over_and_underconfident_posteriors(scale, direction):
    samples, theta = _conjugate_gaussian_draws(scale=scale)
    coverage = metrics.tarp(samples, theta, TARP_LOW, TARP_HIGH, seed=0)
    _, p = metrics.tarp_ks(coverage, 200)
    atc = metrics.tarp_atc(*metrics.tarp_curve(coverage))
    assert p < 1e-3
    assert np.sign(atc) == direction and abs(atc) > 0.05


def test_calibration_failures_bonferroni_and_direction():
    sbc = {"gNa": 0.02, "gK": 0.5}  # threshold 0.05 / 3 = 0.0167
    assert metrics.calibration_failures(sbc, 0.02, -0.1, level=0.05) == []
    assert metrics.calibration_failures(sbc, 0.01, -0.1, level=0.05) == ["TARP overconfident"]
    assert metrics.calibration_failures(sbc, 0.01, 0.1, level=0.01) == []
    assert metrics.calibration_failures(sbc, 0.01, 0.1, level=0.1) == [
        "SBC gNa", "TARP underconfident"]
    assert metrics.calibration_failures({**sbc, "gK": 0.001}, 0.001, 0.02, level=0.05) == [
        "SBC gK", "TARP underconfident"]


# --------------------------------------------------------------------------- C2ST


def test_c2st_same_distribution_is_chance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(1000, 2))
    b = rng.normal(size=(1000, 2))
    assert abs(metrics.c2st(a, b) - 0.5) < 0.05


def test_c2st_separated_distributions_near_one():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(1000, 2))
    b = rng.normal(size=(1000, 2)) + np.array([3.0, 0.0])
    assert metrics.c2st(a, b) > 0.9
    # a narrower distribution inside a wider one is told apart too, less well
    c = 0.3 * rng.normal(size=(1000, 2))
    assert 0.6 < metrics.c2st(a, c) < 0.95


# --------------------------------------------------------------------------- BoxTransform


PRIOR = BoxPrior(("a", "b", "c"), [-3.0, 0.1, 50.0], [3.0, 1.0, 200.0])


def test_box_transform_round_trip():
    transform = BoxTransform(PRIOR)
    theta = torch.as_tensor(PRIOR.sample(1000, np.random.default_rng(0)), dtype=torch.float32)
    u = transform.to_unbounded(theta)
    assert torch.isfinite(u).all()
    back = transform.to_box(u)
    np.testing.assert_allclose(back.numpy(), theta.numpy(), rtol=1e-4, atol=1e-4)
    # and from R^d: to_box lands inside the box
    u = 3 * torch.randn(1000, 3, generator=torch.Generator().manual_seed(0))
    assert PRIOR.contains(transform.to_box(u).numpy().astype(np.float64)).all()
    np.testing.assert_allclose(transform.to_unbounded(transform.to_box(u)).numpy(), u.numpy(),
                               rtol=1e-3, atol=1e-3)
    # the box edges map to finite values (clipped at EDGE)
    edges = torch.as_tensor(np.stack([PRIOR.low, PRIOR.high]), dtype=torch.float32)
    assert torch.isfinite(transform.to_unbounded(edges)).all()


def test_log_det_to_box_matches_autograd_jacobian():
    transform = BoxTransform(PRIOR)
    u_batch = 2.0 * torch.randn(20, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    transform.low = transform.low.double()
    transform.width = transform.width.double()
    log_det = transform.log_det_to_box(u_batch)
    assert log_det.shape == (20,)
    for u, expected in zip(u_batch, log_det):
        jacobian = torch.autograd.functional.jacobian(transform.to_box, u)
        assert jacobian.shape == (3, 3)
        _, logabsdet = torch.linalg.slogdet(jacobian)
        assert float(expected) == pytest.approx(float(logabsdet), abs=1e-9)


def test_unbounded_prior_is_the_box_prior_in_u():
    transform = BoxTransform(PRIOR)
    prior_u = transform.unbounded_prior()
    assert prior_u.event_shape == (3,)
    # (seed 1: torch.rand's own first 20000 x 3 draws under seed 0 fail this KS test, p = 5e-4)
    torch.manual_seed(1)
    u = prior_u.sample((20_000,))
    theta = transform.to_box(u).numpy().astype(np.float64)
    assert PRIOR.contains(theta).all()
    for j in range(3):
        fraction = (theta[:, j] - PRIOR.low[j]) / (PRIOR.high[j] - PRIOR.low[j])
        assert stats.kstest(fraction, "uniform").pvalue > 0.01
    # change of variables: log p_u(u) - log|dtheta/du| = log uniform density in the box
    log_density = prior_u.log_prob(u[:100]) - transform.log_det_to_box(u[:100])
    np.testing.assert_allclose(log_density.numpy(), -np.log(PRIOR.high - PRIOR.low).sum(),
                               atol=1e-3)
    # and the pushforward is not uniform in u (a standard logistic has SD pi / sqrt(3))
    np.testing.assert_allclose(u.std(0).numpy(), np.pi / np.sqrt(3), rtol=0.03)
