"""Priors beyond a box (``mfnpe.prior``): log-uniform, truncated normal and a user's torch
distribution, each mapped onto R^d so that no posterior mass leaves its support.

Two conjugate-ish tasks with exact posteriors (x = g(theta) + SIGMA * eps per parameter):

- log-uniform theta_j on [0.1, 10], x_j = log theta_j + SIGMA eps: log theta_j | x_j is
  N(x_j, SIGMA^2) truncated to [log 0.1, log 10];
- truncated normal theta_1 ~ N(1, 1) on [0, inf), theta_2 ~ N(0, 2^2) on [-1, 3], x = theta
  + SIGMA eps: theta_j | x_j is the normal-normal posterior truncated to the same support.
"""

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mfnpe.evaluation import metrics
from mfnpe.inference import (BoxPrior, ModelError, NetworkSettings, Posterior, TorchPrior,
                             TrainingSettings, TruncatedNormalPrior, train_npe)
from mfnpe.inference.transform import SupportTransform

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated",
                                        "ignore:Maximum number of epochs")

SIGMA = 0.6
N_TRAIN, N_DRAWS = 2000, 500
NETWORK = NetworkSettings(hidden_features=32, num_transforms=2, num_bins=8)
TRAINING = TrainingSettings(batch_size=100, learning_rate=2e-3, stop_after_epochs=10,
                            max_epochs=120)

LOG_UNIFORM = BoxPrior(("k", "tau"), [0.1, 0.1], [10.0, 10.0], scale=("log", "log"))
TRUNC = TruncatedNormalPrior(("a", "b"), loc=[1.0, 0.0], sd=[1.0, 2.0], low=[0.0, -1.0],
                             high=[np.inf, 3.0])


def log_uniform_posterior(x):
    """Frozen truncated normals of log theta given x (..., 2)."""
    lo, hi = np.log(0.1), np.log(10.0)
    return stats.truncnorm((lo - x) / SIGMA, (hi - x) / SIGMA, loc=x, scale=SIGMA)


def trunc_posterior(x):
    """Frozen truncated normals of theta given x (..., 2): normal-normal, then truncated."""
    precision = 1 / TRUNC.sd**2 + 1 / SIGMA**2
    mean = (TRUNC.loc / TRUNC.sd**2 + x / SIGMA**2) / precision
    sd = np.sqrt(1 / precision)
    return stats.truncnorm((TRUNC.low - mean) / sd, (TRUNC.high - mean) / sd, loc=mean, scale=sd)


TASKS = {
    "log_uniform": dict(prior=LOG_UNIFORM, simulate=lambda t, rng: np.log(t)
                        + SIGMA * rng.normal(size=t.shape),
                        exact=lambda x, n, rng: np.exp(log_uniform_posterior(
                            np.broadcast_to(x, (n, 2))).rvs(random_state=rng)),
                        x_obs=np.array([[0.0, 1.0], [-2.2, 2.25], [2.6, -2.6]])),
    "truncated_normal": dict(prior=TRUNC, simulate=lambda t, rng: t
                             + SIGMA * rng.normal(size=t.shape),
                             exact=lambda x, n, rng: trunc_posterior(
                                 np.broadcast_to(x, (n, 2))).rvs(random_state=rng),
                             x_obs=np.array([[1.0, 0.5], [0.05, 2.9], [2.5, -0.9]])),
}


@pytest.fixture(scope="module", params=list(TASKS))
def trained(request):
    task = TASKS[request.param]
    rng = np.random.default_rng(0)
    theta = task["prior"].sample(N_TRAIN, rng)
    x = task["simulate"](theta, rng)
    posterior = train_npe(theta, x, task["prior"], NETWORK, TRAINING, seed=0)
    return request.param, task, posterior


# --------------------------------------------------------------------------- the priors


def test_log_uniform_prior_samples_and_density():
    """Draws lie in the box with log theta uniform (KS test); the density integrates to 1
    and is 1 / (theta log(high / low)); the SD matches the closed form's Monte Carlo."""
    draws = LOG_UNIFORM.sample(20000, np.random.default_rng(1))
    assert LOG_UNIFORM.contains(draws).all()
    for j in range(2):
        assert stats.kstest(np.log(draws[:, j]), stats.uniform(np.log(0.1),
                                                               np.log(100.0)).cdf).pvalue > 1e-3
    theta = np.array([[0.5, 2.0], [0.1, 10.0], [0.05, 1.0]])
    np.testing.assert_allclose(LOG_UNIFORM.log_prob(theta)[:2],
                               -np.log(theta[:2] * np.log(100.0)).sum(1))
    assert np.isneginf(LOG_UNIFORM.log_prob(theta)[2])
    one = integrate.quad(lambda t: np.exp(LOG_UNIFORM.log_prob([[t, 1.0]])[0]) * 1.0
                         * np.log(100.0), 0.1, 10.0, points=[0.2, 1.0])[0]
    assert abs(one - 1.0) < 1e-6
    np.testing.assert_allclose(LOG_UNIFORM.std, draws.std(0), rtol=0.03)
    # the list form of the config stays uniform; the mapping form gives the log scale
    config = BoxPrior.from_config({"gNa": [50.0, 200.0],
                                   "gK": {"low": 20.0, "high": 100.0, "scale": "log"}})
    assert config.scale == ("linear", "log")
    again = BoxPrior.from_config(config.to_config())
    assert again.scale == config.scale and config.to_config()["gNa"] == [50.0, 200.0]
    np.testing.assert_array_equal(np.r_[again.low, again.high], np.r_[config.low, config.high])
    with pytest.raises(ValueError, match="low > 0"):
        BoxPrior(("a",), [0.0], [1.0], scale=("log",))


def test_truncated_normal_prior_samples_and_density():
    draws = TRUNC.sample(20000, np.random.default_rng(2))
    assert TRUNC.contains(draws).all() and (draws[:, 0] >= 0).all()
    reference = stats.truncnorm(-1.0, np.inf, loc=1.0, scale=1.0)
    assert stats.kstest(draws[:, 0], reference.cdf).pvalue > 1e-3
    one = integrate.dblquad(lambda b, a: np.exp(TRUNC.log_prob([[a, b]])[0]), 0, 12, -1, 3)[0]
    assert abs(one - 1.0) < 1e-6
    assert np.isneginf(TRUNC.log_prob([[-0.01, 0.0], [0.5, 3.01]])).all()


def test_support_transform_is_a_bijection_with_the_right_jacobian():
    """theta -> u -> theta is the identity inside each support, and log |d theta / d u|
    matches finite differences (bounded linear, bounded log, half-bounded, unbounded)."""
    prior = TorchPrior(("lin", "log", "lower", "upper", "free"), torch.distributions.Independent(
        torch.distributions.Normal(torch.zeros(5), torch.ones(5)), 1),
        low=[-1.0, -np.inf, 0.0, -np.inf, -np.inf], high=[2.0, np.inf, np.inf, 1.0, np.inf])
    box = BoxPrior(("lin", "log"), [-1.0, 0.1], [2.0, 10.0], scale=("linear", "log"))
    for p, theta in ((prior, [[0.3, 0.0, 0.2, -0.4, 5.0]]), (box, [[0.3, 3.0]])):
        transform = SupportTransform(p)
        theta = torch.tensor(theta, dtype=torch.float64).float()
        u = transform.to_unbounded(theta)
        np.testing.assert_allclose(transform.to_box(u), theta, rtol=1e-4, atol=1e-5)
        eps = 1e-3
        jac = [(transform.to_box(u + eps * e) - transform.to_box(u - eps * e))[0, j] / (2 * eps)
               for j, e in enumerate(torch.eye(p.dim))]
        np.testing.assert_allclose(transform.log_det_to_box(u)[0],
                                   np.log(np.abs(np.array(jac))).sum(), rtol=1e-2, atol=1e-2)


# --------------------------------------------------------------------------- trained posteriors


def test_posterior_under_the_prior_matches_the_exact_one(trained):
    """C2ST against exact posterior draws <= 0.6 on average over three observations, two
    of them against the support's edges."""
    name, task, posterior = trained
    draws = posterior.sample(task["x_obs"], N_DRAWS, seed=1)  # (S, 3, 2)
    rng = np.random.default_rng(3)
    scores = [metrics.c2st(draws[:, i], task["exact"](x, N_DRAWS, rng), seed=0)
              for i, x in enumerate(task["x_obs"])]
    print(name, "C2ST vs exact", np.round(scores, 3))
    assert np.mean(scores) <= 0.6, scores
    assert max(scores) <= 0.7, scores


def test_no_posterior_mass_outside_the_support(trained):
    """Far beyond the edges the draws still lie in the support, and log_prob is -inf
    outside it and finite inside."""
    name, task, posterior = trained
    prior = task["prior"]
    x_far = np.array([[-6.0, 6.0], [8.0, -8.0]])
    draws = posterior.sample(x_far, 2000, seed=2).reshape(-1, 2)
    assert prior.contains(draws).all(), name
    inside = prior.sample(5, np.random.default_rng(4))
    outside = inside.copy()
    outside[:, 0] = prior.low[0] - 0.05
    x = np.zeros((5, 2))
    assert np.isfinite(posterior.log_prob(inside, x)).all()
    assert np.isneginf(posterior.log_prob(outside, x)).all()


def test_log_prob_is_in_the_users_units(trained):
    """On held-out simulations the trained log q(theta | x) is near the exact posterior's
    log density in theta's units (Jacobian included): NLTP within 0.25 nats, median
    pointwise gap below 0.2 nats."""
    name, task, posterior = trained
    rng = np.random.default_rng(5)
    theta = task["prior"].sample(1000, rng)
    x = task["simulate"](theta, rng)
    if name == "log_uniform":
        exact = (log_uniform_posterior(x).logpdf(np.log(theta)) - np.log(theta)).sum(1)
    else:
        exact = trunc_posterior(x).logpdf(theta).sum(1)
    learned = posterior.log_prob(theta, x)
    gap = np.abs(learned - exact)
    print(name, "NLTP exact", -exact.mean(), "learned", -learned.mean(), "mean |gap|", gap.mean())
    assert abs(learned.mean() - exact.mean()) < 0.25
    # pointwise too: a missing Jacobian (log theta for log scale) would be off by ~2 nats
    assert np.median(gap) < 0.2


def test_save_and_load_keep_the_prior(trained, tmp_path):
    name, task, posterior = trained
    posterior.save(tmp_path / "m.pt")
    loaded = Posterior.load(tmp_path / "m.pt")
    assert type(loaded.prior) is type(task["prior"])
    np.testing.assert_array_equal(loaded.prior.std, task["prior"].std)
    x = task["x_obs"]
    theta = task["prior"].sample(3, np.random.default_rng(6))
    np.testing.assert_array_equal(loaded.log_prob(theta, x), posterior.log_prob(theta, x))


def test_a_users_torch_prior_trains_and_needs_passing_when_loading(tmp_path):
    """A gamma prior (support (0, inf)) given as a torch distribution: no draw is <= 0, the
    posterior mean of a tightly observed theta is near the truth, and loading needs it."""
    gamma = torch.distributions.Independent(
        torch.distributions.Gamma(torch.tensor([2.0, 3.0]), torch.tensor([1.0, 2.0])), 1)
    prior = TorchPrior(("rate", "shape"), gamma, low=[0.0, 0.0], high=[np.inf, np.inf])
    rng = np.random.default_rng(7)
    theta = prior.sample(600, rng)
    assert (theta > 0).all()
    np.testing.assert_allclose(theta.mean(0), [2.0, 1.5], rtol=0.1)
    x = theta + 0.1 * rng.normal(size=theta.shape)
    posterior = train_npe(theta, x, prior, NETWORK, TrainingSettings(
        batch_size=100, learning_rate=3e-3, stop_after_epochs=5, max_epochs=25), seed=0)
    draws = posterior.sample(np.array([0.05, 3.0]), 1000, seed=1)
    assert (draws > 0).all()
    assert abs(draws[:, 1].mean() - 3.0) < 0.25
    posterior.save(tmp_path / "g.pt")
    with pytest.raises(ModelError, match="pass it as prior="):
        Posterior.load(tmp_path / "g.pt")
    loaded = Posterior.load(tmp_path / "g.pt", prior=prior)
    np.testing.assert_array_equal(loaded.sample(np.array([1.0, 1.0]), 5, seed=3),
                                  posterior.sample(np.array([1.0, 1.0]), 5, seed=3))
