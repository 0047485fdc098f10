"""Observations: which recordings the workflow finds, the HPD check against a known
Gaussian posterior, the result files and the predictive-check figure."""

import numpy as np
import pytest
from scipy import stats

from mfnpe.plan import observations
from mfnpe.plan.config import validate_config
from mfnpe.observation.posterior import (PredictiveCheck, PredictiveSet, model_index, observe,
                           read_observation, read_predictive, summary_rows, write_observation,
                           write_predictive)
from mfnpe.plots.observation import predictive_check
from mfnpe.observation.predictive import predictive_simulations
from mfnpe.prior import BoxPrior
from mfnpe.observation.recordings import Recording, RecordingError, true_vector

NAMES = ("a", "b")


class GaussianPosterior:
    """q(theta | x) = N(x[:2], I): the HPD level of theta is the chi2(2) CDF of its squared
    distance to the mean."""

    prior = BoxPrior(NAMES, [-50.0, -50.0], [50.0, 50.0])
    feature_names = ["f0", "f1"]

    def sample(self, x, n, seed):
        return x[:2] + np.random.default_rng(seed).standard_normal((n, 2))

    def log_prob(self, theta, x):
        return np.atleast_1d(stats.multivariate_normal(np.zeros(2)).logpdf(theta - x[:, :2]))


@pytest.mark.parametrize("mass", [0.5, 0.9, 0.99])
def test_hpd_level_of_a_known_gaussian_posterior(mass):
    r = np.sqrt(stats.chi2.ppf(mass, 2))
    x = np.array([1.0, -2.0])
    runs = [dict(method="npe", n_lf=0, n_hf=10, seed=s) for s in range(3)]
    result = observe("rec", "rec.h5", x, np.array([1.0 + r, -2.0]), [GaussianPosterior()] * 3,
                     runs, n_samples=4000, master_seed=0)
    assert result.samples.shape == (3, 4000, 2)
    assert not np.array_equal(result.samples[0], result.samples[1])  # a stream per model
    assert np.allclose(result.hpd_level, mass, atol=0.025)
    expected_log_q = -np.log(2 * np.pi) - r**2 / 2
    assert np.allclose(result.log_prob_true, expected_log_q)
    rows = summary_rows(result)
    assert [row["inside_95"] for row in rows] == [mass < 0.95] * 3
    assert rows[0]["mean_a"] == pytest.approx(1.0, abs=0.06)
    assert rows[0]["sd_b"] == pytest.approx(1.0, abs=0.05)


def test_a_true_theta_outside_the_prior_is_warned_about(caplog):
    runs = [dict(method="npe", n_lf=0, n_hf=10, seed=0)]
    with caplog.at_level("WARNING"):
        result = observe("rec", "rec.h5", np.array([1.0, -2.0]), np.array([60.0, -2.0]),
                         [GaussianPosterior()], runs, n_samples=10, master_seed=0)
    assert "rec.h5: true a = 60 is outside the prior [-50, 50]" in caplog.text
    assert result.name == "rec" and result.source == "rec.h5"
    caplog.clear()
    with caplog.at_level("WARNING"):
        observe("rec", "rec.h5", np.array([1.0, -2.0]), np.array([1.0, -2.0]),
                [GaussianPosterior()], runs, n_samples=10, master_seed=0)
    assert "outside the prior" not in caplog.text


def test_true_parameters_must_be_the_inferred_ones():
    recording = Recording("rec", np.zeros(2), np.zeros(2), 0.01, {}, {"b": 2.0, "a": 1.0},
                          "rec.h5")
    assert np.array_equal(true_vector(recording, NAMES), [1.0, 2.0])
    recording.true_theta = {"a": 1.0, "c": 2.0}
    with pytest.raises(RecordingError, match=r"rec.h5: true parameters \['a', 'c'\] are not"):
        true_vector(recording, NAMES)


def test_observation_file_round_trip_without_true_theta(tmp_path):
    runs = [dict(method="mf_npe", n_lf=100, n_hf=10, seed=0),
            dict(method="npe", n_lf=0, n_hf=10, seed=0)]
    result = observe("rec", "rec.h5", np.array([0.5, 0.5]), None, [GaussianPosterior()] * 2,
                     runs, 50, 1)
    result.settings = {"seed": 1}
    write_observation(tmp_path / "posterior.h5", result)
    back = read_observation(tmp_path / "posterior.h5", {"seed": 1})
    assert back.theta_true is None and np.isnan(back.hpd_level).all()
    assert np.array_equal(back.samples, result.samples) and back.runs == runs
    assert model_index(back, runs[1]) == 1
    assert summary_rows(back)[0]["inside_95"] is None
    with pytest.raises(KeyError, match="no posterior of model"):
        model_index(back, dict(method="npe", n_lf=0, n_hf=20, seed=0))


def test_recordings_are_the_folder_files_and_the_examples(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "recs"
    folder.mkdir()
    for name in ("cell_1.csv", "cell-2.h5", "notes.txt", ".cell_3.h5.tmp-1"):
        (folder / name).write_text("")
    config = validate_config({"observations": {"dir": "recs/", "examples": {
        "ex": {"format": "csv", "theta": {"gNa": 100.0, "gK": 30.0, "gL": 0.3}}}}})
    assert observations.recordings(config) == {
        "cell-2": "recs/cell-2.h5", "cell_1": "recs/cell_1.csv", "ex": "recs/ex.csv"}
    expected = observations.recordings(config)
    # odd files are skipped with a warning naming them, never blocking the workflow
    for name in ("ex.h5", "cell 4.csv", "zelle-ä.h5"):
        (folder / name).write_text("")
    with caplog.at_level("WARNING"):
        assert observations.recordings(config) == expected
    assert "recs/ex.h5: skipped: recs/ex.csv is also named 'ex'" in caplog.text
    assert "recs/cell 4.csv: skipped: a recording's file name may hold only" in caplog.text
    assert "recs/zelle-ä.h5: skipped" in caplog.text


def test_predictive_simulations_file_and_figure(tmp_path):
    config = validate_config({"stimulus": {"duration": 30.0, "t_on": 5.0, "t_off": 25.0}})
    settings = {**observations.predictive_settings(config)["simulation"], "seed": 3}
    theta = np.array([[120.0, 36.0, 0.3], [90.0, 40.0, 0.5], [150.0, 30.0, 0.2]])
    run = dict(method="npe", n_lf=0, n_hf=50, seed=0)
    shard = predictive_simulations(theta, ["gNa", "gK", "gL"], settings, "rec", run)
    again = predictive_simulations(theta, ["gNa", "gK", "gL"], settings, "rec", run)
    other = predictive_simulations(theta, ["gNa", "gK", "gL"], settings, "other", run)
    assert np.array_equal(shard.x, again.x) and not np.array_equal(shard.x, other.x)
    assert shard.valid.all() and shard.traces.shape == (3, 300)  # 30 ms every 0.1 ms
    sets = {"npe": PredictiveSet(run, shard.theta, shard.x, shard.valid, shard.traces[:2])}
    check = PredictiveCheck("rec", shard.x[0], shard.traces[0], 0.1, config["features"],
                            ["gNa", "gK", "gL"], sets, {"n": 3})
    write_predictive(tmp_path / "ppc.h5", check)
    back = read_predictive(tmp_path / "ppc.h5", {"n": 3})
    assert np.array_equal(back.sets["npe"].x, shard.x) and back.sets["npe"].run == run
    assert back.sets["npe"].traces.shape == (2, 300) and back.trace_dt == 0.1

    figure = predictive_check(np.arange(300) * 0.1, back.trace, {"npe": back.sets["npe"].traces},
                              back.x, {"npe": back.sets["npe"].x}, back.feature_names, "rec",
                              window=(5.0, 25.0))
    gids = [artist.get_gid() for ax in figure.axes for artist in ax.get_children()]
    assert gids.count("trace:npe") == 2 and gids.count("trace:observed") == 1
    assert {f"interval:npe:{name}" for name in config["features"]} <= set(gids)
    assert {f"observed:{name}" for name in config["features"]} <= set(gids)
