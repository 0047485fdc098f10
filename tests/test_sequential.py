"""Sequential inference (TSNPE, MF-TSNPE, A-MF-TSNPE) against known answers.

The truncation, the mixture and the acquisition are checked on exact Gaussian posteriors,
whose high-density regions are discs of known radius; the methods on the toy task of
``toy_task`` with a narrow posterior (sigma_hf = 0.1, a 60th of the prior box's width),
where spending the HF simulations near the observation matters.
"""

import numpy as np
import pytest
import torch
from scipy import stats
from toy_task import PRIOR, ToyTask, standardizers

from mfnpe.evaluation import metrics
from mfnpe.plan import sequential as sequential_runs
from mfnpe.prior import BoxPrior
from mfnpe.inference import NetworkSettings, TrainingSettings, pretrain, train_npe
from mfnpe.inference import sequential
from mfnpe.inference.sequential import (Ensemble, RegionBox, SequentialSettings,
                                        acquisition_scores, member_seed, propose, run_rounds,
                                        truncated_prior)

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")


class ExactPosterior:
    """The toy task's exact HF posterior with the interface of a trained one; ``shift``
    (d,) moves its mean (a deliberately wrong posterior)."""

    def __init__(self, toy: ToyTask, shift=(0.0, 0.0)):
        self.toy, self.shift = toy, np.asarray(shift, float)
        self.prior, self.feature_names = PRIOR, None

    def log_prob(self, theta, x):
        theta = np.atleast_2d(theta)
        x = np.broadcast_to(np.atleast_2d(x) + self.shift, theta.shape)
        return self.toy.exact_log_prob(theta, x)

    def sample(self, x, n, seed=None):
        return self.toy.exact_samples(np.asarray(x) + self.shift, n, np.random.default_rng(seed))


GAUSS = ToyTask(sigma_hf=0.4)
X_CENTRE = np.array([0.3, -0.2])  # far from the edges: the posterior is a plain Gaussian


def test_truncated_prior_is_the_highest_density_disc():
    """For an isotropic Gaussian posterior N(x, s^2 I) in 2-D the region holding 1 - q of
    its mass is the disc of radius s sqrt(-2 ln q): the truncated prior is uniform on it."""
    q = 0.01
    settings = SequentialSettings(truncation_quantile=q, support_samples=200_000)
    radius = GAUSS.sigma_hf * np.sqrt(-2 * np.log(q))
    torch.manual_seed(0)
    region = truncated_prior(Ensemble([ExactPosterior(GAUSS)]), X_CENTRE, settings)
    theta, rate = region.sample(4000, np.random.default_rng(0))
    mass = region.box.volume
    r = np.linalg.norm(theta - X_CENTRE, axis=1)
    expected_rate = np.pi * radius**2 / 36.0  # of the prior box [-3, 3]^2
    print(f"radius {radius:.3f}: max draw distance {r.max():.3f}, acceptance {rate:.4f} "
          f"(theory {expected_rate:.4f}), drawn from {mass:.3f} of the prior")
    assert r.max() <= radius * 1.02
    # uniform on the disc: r^2 / R^2 is Uniform(0, 1)
    assert stats.kstest(np.clip((r / radius) ** 2, 0, 1), "uniform").pvalue > 0.001
    assert abs(rate - expected_rate) < 0.15 * expected_rate
    # the sampler drew from the box around the disc (widened by 10 % each side), not the prior
    assert mass == pytest.approx((2 * radius * 1.2) ** 2 / 36.0, rel=0.05)


class ThinGaussian:
    """An exact posterior N(centre, R diag(long^2, thin^2) R^T) rotated by 45 degrees, on
    the toy task's prior box: its highest-density regions are thin diagonal ellipses."""

    def __init__(self, centre, long, thin):
        rotation = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)
        self.centre = np.asarray(centre, float)
        self.cov = rotation @ np.diag([long**2, thin**2]) @ rotation.T
        self.prior, self.feature_names = PRIOR, None

    def log_prob(self, theta, x):
        return stats.multivariate_normal(self.centre, self.cov).logpdf(np.atleast_2d(theta))

    def sample(self, x, n, seed=None):
        return np.random.default_rng(seed).multivariate_normal(self.centre, self.cov, n)

    def mahalanobis2(self, theta):
        delta = theta - self.centre
        return np.einsum("ij,jk,ik->i", delta, np.linalg.inv(self.cov), delta)


THIN = ThinGaussian([0.2, -0.1], long=0.5, thin=0.0017)
THIN_LEVEL = -2 * np.log(0.01)  # the 99 % region of a 2-D Gaussian: Mahalanobis^2 <= this
THIN_AREA = np.pi * THIN_LEVEL * 0.5 * 0.0017


def _thin_region():
    settings = SequentialSettings(truncation_quantile=0.01, support_samples=100_000)
    torch.manual_seed(1)
    return truncated_prior(Ensemble([THIN]), X_CENTRE, settings)


def _uniform_on_thin_ellipse(theta, mass):
    r2 = THIN.mahalanobis2(theta)
    assert r2.max() <= THIN_LEVEL * 1.03
    assert stats.kstest(np.clip(r2 / THIN_LEVEL, 0, 1), "uniform").pvalue > 0.001
    assert mass == pytest.approx(THIN_AREA / 36.0, rel=0.15)


def test_a_thin_slanted_region_is_drawn_from_the_box_along_its_axes():
    """The 99 % region of a Gaussian with axes 0.5 and 0.0017 along the diagonal is an
    ellipse filling 0.3 % of its axis-aligned bounding box; the box along its principal
    axes holds it with room of about a half: rejection stays exact and quick."""
    region = _thin_region()
    assert region.inside(region.box.sample(20_000, np.random.default_rng(2))).mean() > 0.3
    _uniform_on_thin_ellipse(*region.sample(2000, np.random.default_rng(3)))


def test_a_box_mostly_outside_the_support_is_drawn_in_bounded_passes(monkeypatch):
    """A box 10 x 10 around the prior's unit square holds it in 1 % of its volume: 2000
    draws need about 220 000 of the box, which come in passes of at most
    BOX_DRAWS_PER_PASS (one pass of all of them took 2.8 GB on the recording 18711001)
    and are still uniform on the support."""
    box = RegionBox(PRIOR, np.array([0.5, 0.5]), np.eye(2), np.array([5.0, 5.0]), 0.01)
    asked, uniform_z = [], RegionBox._uniform_z
    monkeypatch.setattr(RegionBox, "_uniform_z",
                        lambda self, n, rng: asked.append(n) or uniform_z(self, n, rng))
    monkeypatch.setattr(sequential, "BOX_DRAWS_PER_PASS", 4096)
    theta = box.sample(2000, np.random.default_rng(0))
    assert max(asked) == 4096 and len(asked) > 20
    assert theta.shape == (2000, 2) and PRIOR.contains(theta).all()
    z = PRIOR.to_unit(theta)
    assert min(stats.kstest(z[:, j], "uniform").pvalue for j in range(2)) > 1e-3


def test_a_region_that_fills_little_of_its_box_is_sampled_by_sir(monkeypatch):
    """Where rejection would accept too few of the box's draws, sampling-importance-
    resampling from the mixture of q and the box still draws the prior restricted to the
    region (uniform on the ellipse) and estimates its mass (forced here by raising the
    threshold above any acceptance)."""
    monkeypatch.setattr(sequential, "REJECTION_MIN_RATE", 1.01)
    region = _thin_region()
    _uniform_on_thin_ellipse(*region.sample(2000, np.random.default_rng(3)))


class WideGaussian:
    """An exact posterior on the box [0, 1]^9 (not truncated to it): N(1/2, C) with
    variance 0.09 and correlation 0.6 between every two parameters, whose 99 % region
    spans much of the box along its diagonal."""

    def __init__(self, dim=9, sd=0.3, rho=0.6):
        self.prior = BoxPrior(tuple(f"t{i}" for i in range(dim)), [0.0] * dim, [1.0] * dim)
        self.cov = sd**2 * ((1 - rho) * np.eye(dim) + rho)
        self.feature_names = None

    def log_prob(self, theta, x):
        return stats.multivariate_normal(np.full(len(self.cov), 0.5), self.cov).logpdf(
            np.atleast_2d(theta))

    def sample(self, x, n, seed=None):
        return np.random.default_rng(seed).multivariate_normal(np.full(len(self.cov), 0.5),
                                                               self.cov, n)


def test_a_wide_region_is_drawn_by_rejection_from_its_box_within_the_support(
        caplog, monkeypatch):
    """A region spanning two thirds of a 9-D prior along its diagonal: the box along its
    principal axes lies mostly outside the prior's support (about 0.2 % of it inside). Its
    draws outside the support are dropped before the region is tested, so the acceptance
    that decides between rejection and SIR is that of the draws tested (about 0.7; 0.002
    when counted over every draw of the box, below the 1 % threshold set here): rejection
    stays exact. The draws are the prior's draws inside the region, and the mass is the
    share of prior draws inside."""
    monkeypatch.setattr(sequential, "REJECTION_MIN_RATE", 0.01)
    wide = WideGaussian()
    settings = SequentialSettings(truncation_quantile=0.01, support_samples=20_000)
    torch.manual_seed(5)
    with caplog.at_level("WARNING"):
        region = truncated_prior(Ensemble([wide]), np.zeros(1), settings)
        theta, mass = region.sample(3000, np.random.default_rng(6))
    assert "SIR" not in caplog.text
    print(f"box: {region.box.in_prior:.4f} of it in the support, prior mass "
          f"{region.box.volume:.3f}; region {mass:.3f}")
    assert region.inside(region.box.sample(20_000, np.random.default_rng(8))).mean() > 0.5
    reference = wide.prior.sample(100_000, np.random.default_rng(7))
    inside = region.inside(reference)
    assert mass == pytest.approx(inside.mean(), rel=0.1)
    for column in range(9):  # the same law as the prior's draws in the region
        assert stats.ks_2samp(theta[:, column], reference[inside, column]).pvalue > 0.001


def test_a_sharp_posterior_in_a_corner_is_truncated_quickly():
    """A posterior of SD 0.01 at a corner of the [-3, 3]^2 box holds its 99 % region on
    a share ~ 3e-5 of the prior: rejection from the whole box would need ~ 10^5 draws per
    accepted one. The proposal draws from the box around the region and accepts half."""
    sharp = ToyTask(sigma_hf=0.01)
    corner = np.array([2.9, -2.9])
    q = 0.01
    settings = SequentialSettings(truncation_quantile=q, support_samples=20_000)
    proposal = propose(PRIOR, Ensemble([ExactPosterior(sharp)]), corner, 2000, 0, settings,
                       seed=4)
    radius = sharp.sigma_hf * np.sqrt(-2 * np.log(q))
    r = np.linalg.norm(proposal.theta - corner, axis=1)
    assert r.max() <= radius * 1.02 and PRIOR.contains(proposal.theta).all()
    assert stats.kstest(np.clip((r / radius) ** 2, 0, 1), "uniform").pvalue > 0.001
    assert proposal.acceptance_rate == pytest.approx(np.pi * radius**2 / 36.0, rel=0.15)


def test_the_first_proposal_without_a_posterior_is_the_prior():
    proposal = propose(PRIOR, None, X_CENTRE, 500, 0, SequentialSettings(), seed=3)
    assert proposal.theta.shape == (500, 2) and proposal.acceptance_rate == 1.0
    assert PRIOR.contains(proposal.theta).all() and not proposal.acquired.any()
    assert abs(proposal.theta.mean()) < 0.3  # spread over the box, not around x
    again = propose(PRIOR, None, X_CENTRE, 500, 0, SequentialSettings(), seed=3)
    np.testing.assert_array_equal(proposal.theta, again.theta)
    with pytest.raises(ValueError, match="acquisition needs"):
        propose(PRIOR, None, X_CENTRE, 10, 2, SequentialSettings(), seed=3)


def test_ensemble_is_the_equal_mixture_of_its_members():
    left, right = ExactPosterior(GAUSS, (-1.0, 0.0)), ExactPosterior(GAUSS, (1.0, 0.0))
    ensemble = Ensemble([left, right])
    theta = np.array([[-0.7, -0.2], [0.3, -0.2], [1.3, 0.0], [2.9, 2.9]])
    expected = np.log(0.5 * np.exp(left.log_prob(theta, X_CENTRE))
                      + 0.5 * np.exp(right.log_prob(theta, X_CENTRE)))
    np.testing.assert_allclose(ensemble.log_prob(theta, X_CENTRE), expected, rtol=1e-10)
    draws = ensemble.sample(X_CENTRE, 4000, seed=1)
    on_right = (draws[:, 0] > X_CENTRE[0]).mean()
    assert abs(on_right - 0.5) < 4 * np.sqrt(0.25 / 4000)  # binomial: half per member
    np.testing.assert_array_equal(draws, ensemble.sample(X_CENTRE, 4000, seed=1))


def test_acquisition_takes_the_candidates_where_the_members_disagree():
    """Members N(x - d, s^2) and N(x + d, s^2), d = (delta, 0): their log densities differ
    by 2 delta (theta_1 - x_1) / s^2, so the variance across the two is
    (delta (theta_1 - x_1) / s^2)^2: acquisition picks the flanks along theta_1."""
    delta, s = 0.2, GAUSS.sigma_hf
    ensemble = Ensemble([ExactPosterior(GAUSS, (-delta, 0)), ExactPosterior(GAUSS, (delta, 0))])
    theta = PRIOR.sample(50, np.random.default_rng(0)) * 0.3 + X_CENTRE
    expected = (delta * (theta[:, 0] - X_CENTRE[0]) / s**2) ** 2
    np.testing.assert_allclose(acquisition_scores(ensemble, theta, X_CENTRE), expected,
                               rtol=1e-8, atol=1e-10)

    settings = SequentialSettings(truncation_quantile=0.01, support_samples=20_000,
                                  acquisition_candidates=20)
    proposal = propose(PRIOR, ensemble, X_CENTRE, 200, 40, settings, seed=4)
    assert proposal.theta.shape == (200, 2) and proposal.acquired.sum() == 40
    assert proposal.acquired[-40:].all()
    scores = acquisition_scores(ensemble, proposal.theta, X_CENTRE)
    acquired, drawn = scores[proposal.acquired], scores[~proposal.acquired]
    print(f"acquired scores >= {acquired.min():.2f}; drawn: median {np.median(drawn):.2f}, "
          f"80% quantile {np.quantile(drawn, 0.8):.2f}")
    # the best 40 of 800 candidates (the top 5%) beat most of the plain draws
    assert acquired.min() >= np.quantile(drawn, 0.8)
    # a fraction of 1: every parameter acquired, none drawn plainly
    every = propose(PRIOR, ensemble, X_CENTRE, 10, 10, settings, seed=5)
    assert every.acquired.all() and every.theta.shape == (10, 2)
    assert 0 < every.acceptance_rate < 1


def test_settings_say_who_acquires_and_seeds_are_distinct():
    settings = SequentialSettings(simulations_per_round=40, acquisition_fraction=0.25)
    assert settings.acquired("a_mf_tsnpe", 1) == 0  # its members are all the pretrained one
    assert settings.acquired("a_mf_tsnpe", 2) == 10
    assert settings.acquired("mf_tsnpe", 2) == 0 and settings.acquired("tsnpe", 3) == 0
    assert settings.members("a_mf_tsnpe") == settings.ensemble_size
    assert settings.members("tsnpe") == settings.members("mf_tsnpe") == 1
    seeds = {member_seed(0, method, r, e, purpose) for method in ("tsnpe", "a_mf_tsnpe")
             for r in (1, 2) for e in (0, 1) for purpose in ("training", "proposal")}
    assert len(seeds) == 16
    with pytest.raises(ValueError, match="unknown sequential method"):
        settings.members("snpe_c")
    # the workflow's light copy (no torch) names the same methods
    assert sequential_runs.METHODS == sequential.METHODS
    assert sequential_runs.PRETRAINED == sequential.PRETRAINED


# --------------------------------------------------------------------------- the methods

NARROW = ToyTask(sigma_hf=0.1)
NETWORK = NetworkSettings(model="nsf", hidden_features=32, num_transforms=3, num_bins=8)
# Stopping after 10 epochs without a gain (20 until 2026-12-07) costs 35 % less CPU and
# passes the same margins (tools/sequential_fixture_cpu.py --patience 10
# --pretraining-patience 10; docs/results.md, "The test suite").
PRETRAINING = TrainingSettings(batch_size=200, learning_rate=2e-3, stop_after_epochs=10,
                               max_epochs=300)
TRAINING = TrainingSettings(batch_size=20, learning_rate=5e-4, stop_after_epochs=10,
                            max_epochs=300)
ROUNDS = SequentialSettings(rounds=5, simulations_per_round=60)
N_OBS_NPE, N_OBS_SEQUENTIAL, N_DRAWS = 8, 2, 1000


@pytest.fixture(scope="module")
def narrow_task():
    """C2ST against the exact posterior of amortized NPE (one value per observation) and of
    TSNPE and MF-TSNPE after their first and last rounds (two per observation), all with
    300 HF simulations (sequential: 5 rounds of 60)."""
    rng = np.random.default_rng(3)
    theta_lf = PRIOR.sample(3000, rng)
    lf = pretrain(theta_lf, NARROW.simulate_lf(theta_lf, rng), PRIOR, NETWORK, PRETRAINING,
                  seed=0)
    x_obs = NARROW.simulate_hf(PRIOR.sample(N_OBS_NPE, rng), rng)
    budget = ROUNDS.rounds * ROUNDS.simulations_per_round
    theta = PRIOR.sample(budget, rng)
    npe = train_npe(theta, NARROW.simulate_hf(theta, rng), PRIOR, NETWORK, TRAINING, seed=0)

    def c2st(posterior, x_o):
        exact = NARROW.exact_samples(x_o, N_DRAWS, np.random.default_rng(77))
        return metrics.c2st(posterior.sample(x_o, N_DRAWS, seed=0), exact, seed=0)

    scores = {"npe": [c2st(npe, x_o) for x_o in x_obs]}
    sim_rng = np.random.default_rng(9)
    for method in ("tsnpe", "mf_tsnpe"):
        scores[method] = []
        for i, x_o in enumerate(x_obs[:N_OBS_SEQUENTIAL]):
            rounds = run_rounds(method, lambda t: NARROW.simulate_hf(t, sim_rng), x_o, PRIOR,
                                ROUNDS, NETWORK, TRAINING, seed=i, pretrained=lf)
            assert len(rounds) == ROUNDS.rounds
            # the first and the last round (the C2ST is a quarter of the fixture's time)
            scores[method].append([c2st(rounds[0], x_o), c2st(rounds[-1], x_o)])
    return {name: np.array(values) for name, values in scores.items()}


# An end-to-end run (pretraining, NPE, 2 methods x 2 observations x 5 rounds of training,
# 10 C2STs): minutes of CPU, so in the workflow tier (tests/tiers.py).
@pytest.mark.workflow
def test_sequential_methods_reach_a_c2st_amortized_npe_does_not(narrow_task):
    """At 300 HF simulations (sequential: 5 rounds of 60) measured: NPE 0.792 (mean of 8
    observations), TSNPE 0.592 and MF-TSNPE 0.549 (mean of the first 2)."""
    npe = narrow_task["npe"].mean()
    final = {method: narrow_task[method][:, -1].mean() for method in ("tsnpe", "mf_tsnpe")}
    print(f"C2ST at 300 HF simulations: NPE {npe:.3f} ({N_OBS_NPE} observations); "
          + ", ".join(f"{m} {v:.3f} (round 1: {narrow_task[m][:, 0].mean():.3f})"
                      for m, v in final.items()))
    assert npe > 0.65
    assert final["tsnpe"] <= 0.65 and final["mf_tsnpe"] <= 0.65
    # NPE on the sequential methods' own observations is no better than on the others
    assert narrow_task["npe"][:N_OBS_SEQUENTIAL].mean() > 0.65
    # TSNPE improves over its rounds; MF-TSNPE starts close (the LF network truncates round 1)
    tsnpe = narrow_task["tsnpe"].mean(axis=0)
    assert tsnpe[0] - tsnpe[-1] > 0.1
    assert narrow_task["mf_tsnpe"][:, 0].mean() < tsnpe[0]


def test_cases_at_least_as_good_counts_known_answers_and_none_for_real_recordings():
    import pandas as pd

    from mfnpe.evaluation.sequential import cases_at_least_as_good

    rows = [dict(recording=r, method=m, n_hf=50, seed=s, nltp_true=v)
            for r, m, s, v in [("a", "mf_tsnpe", 0, 1.0), ("a", "mf_npe", 0, 2.0),
                               ("a", "mf_tsnpe", 1, 3.0), ("a", "mf_npe", 1, 2.0),
                               ("b", "mf_tsnpe", 0, 1.0)]]  # b: no MF-NPE row
    assert cases_at_least_as_good(pd.DataFrame(rows), "mf_tsnpe", "mf_npe") == (1, 2)
    real = pd.DataFrame([{**row, "nltp_true": float("nan")} for row in rows])  # unknown theta
    assert cases_at_least_as_good(real, "mf_tsnpe", "mf_npe") == (0, 0)


def test_final_c2st_has_its_columns_with_or_without_a_pair_to_compare(tmp_path):
    """LF-TSNPE alone (the recommended real-cell path) has no posterior at its final budget
    of 0 HF simulations to compare with: no rows, but the columns, so that the CSV reads
    back (an empty frame wrote a file pandas could not read, and the run stopped)."""
    import pandas as pd

    from mfnpe.evaluation.sequential import C2ST_COLUMNS, final_c2st
    from mfnpe.io.tables import write_csv
    from mfnpe.observation.posterior import ObservationPosterior

    rng = np.random.default_rng(0)

    def posterior(runs):
        runs = [dict(method=m, n_lf=n_lf, n_hf=n_hf, seed=0) for m, n_lf, n_hf in runs]
        return ObservationPosterior("cell", "cell.abf", np.zeros(3), ["a", "b", "c"],
                                    ["t1", "t2"], None, runs, rng.normal(size=(len(runs), 200, 2)),
                                    np.full(len(runs), np.nan), np.full(len(runs), np.nan))

    amortized = posterior([("lf_npe", 5000, 0), ("mf_npe", 5000, 200), ("npe", 0, 200)])
    alone = final_c2st(posterior([("lf_tsnpe", 10000, 0), ("lf_tsnpe", 15000, 0)]),
                       amortized, seed=0)
    assert list(alone.columns) == list(C2ST_COLUMNS) and alone.empty
    write_csv(alone, tmp_path / "c2st.csv")
    assert list(pd.read_csv(tmp_path / "c2st.csv").columns) == list(C2ST_COLUMNS)
    both = final_c2st(posterior([("lf_tsnpe", 15000, 0), ("mf_tsnpe", 15000, 100),
                                 ("mf_tsnpe", 15000, 200)]), amortized, seed=0)
    # at 200 HF: LF-TSNPE, MF-TSNPE, MF-NPE and NPE; every pair but MF-NPE with NPE
    assert sorted(zip(both["method_a"], both["method_b"])) == sorted([
        ("lf_tsnpe", "mf_tsnpe"), ("lf_tsnpe", "mf_npe"), ("lf_tsnpe", "npe"),
        ("mf_tsnpe", "mf_npe"), ("mf_tsnpe", "npe")])
    assert set(both["n_hf"]) == {200} and both["c2st"].between(0.3, 0.7).all()  # one law


def test_a_round_starts_from_the_pretrained_network_then_from_the_previous_members():
    from mfnpe.plan.sequential import member_settings, start_settings

    chain = {"recording": "r", "method": "mf_tsnpe", "seed": 0, "pretrained": {"run": "lf"}}
    assert start_settings(chain, 1, range(2)) == [{"run": "lf"}, {"run": "lf"}]
    assert start_settings(chain, 3, [1, 1]) == [member_settings(chain, 2, 1)] * 2
    assert member_settings(chain, 2, 1) == {"chain": chain, "round": 2, "member": 1}
    assert start_settings({"method": "tsnpe"}, 1, []) == []  # TSNPE starts from no network


def test_the_mf_methods_hf_rounds_keep_the_z_scoring_they_start_from():
    """An MF chain's HF rounds train only on simulations from the truncated prior, far
    narrower than the LF data their start was z-scored on (here one feature is constant):
    they keep that z-scoring, where fine-tuning's ``auto`` refits it to the narrow data (as
    it did on the recording 18711001, discarding the LF chain's input scale)."""
    from mfnpe.names import SEQUENTIAL_STANDARDIZATION

    rng = np.random.default_rng(0)
    theta_lf = PRIOR.sample(400, rng)
    tiny = NetworkSettings(model="nsf", hidden_features=8, num_transforms=1, num_bins=4)
    short = TrainingSettings(batch_size=50, max_epochs=2)
    start = pretrain(theta_lf, NARROW.simulate_lf(theta_lf, rng), PRIOR, tiny, short, seed=0)
    theta = np.array([0.3, -0.2]) + 0.05 * rng.normal(size=(60, 2))  # a small region
    x = NARROW.simulate_hf(theta, rng)
    x[:, 1] = 0.25  # constant in the region
    members = {rule: sequential.train_member(theta, x, PRIOR, start, tiny, short, 1, rule)
               for rule in ("keep", "auto")}
    np.testing.assert_array_equal(standardizers(members["keep"].net)[0],
                                  standardizers(start.net)[0])
    assert members["keep"].history["refit_x"] == [0.0]
    assert members["auto"].history["refit_x"] == [1.0]  # what fine-tuning alone would do
    # the plan puts "keep" in the MF chains' settings (tests/test_config.py)
    assert [SEQUENTIAL_STANDARDIZATION[m] for m in sequential.METHODS] == [
        "auto", "keep", "keep", "auto"]
