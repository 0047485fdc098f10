"""Misspecification verdict of a recording: exact conformal p-values on known
distributions, then real LF simulations (the tiny config's simulator and protocol) as the
reference: model traces pass, traces the model cannot produce are flagged, and the false
alarms over held-out simulations stay within a (beta-)binomial bound of alpha."""

import math

import numpy as np
import pytest
from scipy import stats

from mfnpe.stimulus.step import Stimulus
from mfnpe.observation.misspecification import (rank_p_values, read_typicality, summary_columns,
                                                typicality, write_typicality)
from mfnpe.plan import shards
from mfnpe.plan.config import load_config
from mfnpe.plots.observation import with_note
from mfnpe.simulation.features import compute_features
from mfnpe.seeds import simulation_seeds
from mfnpe.simulation.shard import sample_prior_shard, simulate_shard
from workflow_helpers import CONFIG_SCHEMA, TINY

ALPHA = 0.01
N_REFERENCE, N_HELD_OUT = 800, 200


def test_the_p_value_is_exactly_uniform_under_exchangeability():
    """1000 independent trials of 99 reference points and one more from the same 2-D
    Gaussian: P(p <= j / 100) = j / 100 exactly, so the counts lie in binomial bounds."""
    rng = np.random.default_rng(0)
    p = np.array([typicality(rng.standard_normal((99, 2)), rng.standard_normal(2), ["a", "b"],
                             ALPHA).p_value for _ in range(1000)])
    assert set(np.round(p * 100, 6)) <= set(range(1, 101))  # multiples of 1 / (n + 1)
    for level in (0.01, 0.05, 0.2, 0.5):
        count = int((p <= level).sum())
        assert stats.binom.ppf(0.0005, 1000, level) <= count <= stats.binom.ppf(0.9995, 1000, level)


def test_a_point_far_outside_gets_the_smallest_p_and_names_its_feature():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((199, 3)) * [1.0, 10.0, 0.1]
    x = np.array([0.0, 0.0, 5.0])  # 50 SDs out in the third feature only
    result = typicality(reference, x, ["a", "b", "c"], ALPHA)
    assert result.p_value == pytest.approx(1 / 200) and result.flagged
    assert result.most_atypical(1) == [2] and result.quantile[2] == 1.0
    assert result.feature_p[2] == pytest.approx(2 / 200)
    assert result.describe_features(1).startswith("c = 5 (quantile 1.000, p = 0.01,")
    assert result.title_note() == "x_o atypical of the simulations (p = 0.005)"
    typical = typicality(reference, np.zeros(3), ["a", "b", "c"], ALPHA)
    assert typical.p_value > 0.5 and not typical.flagged and typical.title_note() == ""


def test_rank_p_values_count_ties_on_both_sides():
    reference = np.array([[0.0], [1.0], [1.0], [2.0], [3.0]])
    quantile, p = rank_p_values(reference, np.array([1.0]))
    assert quantile[0] == pytest.approx((1 + 0.5 * 2) / 5)
    assert p[0] == pytest.approx(min(1.0, 2 * (1 + 3) / 6))  # P_low = (1 + #<=) / (n + 1)
    quantile, p = rank_p_values(reference, np.array([-1.0]))
    assert quantile[0] == 0.0 and p[0] == pytest.approx(2 / 6)


def test_invalid_rows_are_dropped_and_an_invalid_recording_is_refused():
    rng = np.random.default_rng(2)
    reference = rng.standard_normal((50, 2))
    reference[[3, 7], 1] = np.nan  # diverged simulations (NaN feature rows)
    result = typicality(reference, np.zeros(2), ["a", "b"], ALPHA)
    assert result.n_reference == 48 and result.n_dropped == 2
    assert result.p_value >= 1 / 49 and np.isfinite(result.score)
    with pytest.raises(ValueError, match=r"non-finite features \['b'\]"):
        typicality(reference, np.array([0.0, np.nan]), ["a", "b"], ALPHA)


def test_the_verdict_file_round_trips_and_gives_the_table_columns(tmp_path):
    rng = np.random.default_rng(3)
    result = typicality(rng.standard_normal((30, 2)), np.array([9.0, 0.0]), ["a", "b"], 0.05)
    result.settings = {"alpha": 0.05}
    write_typicality(tmp_path / "misspecification.h5", result)
    back = read_typicality(tmp_path / "misspecification.h5", {"alpha": 0.05})
    assert back.p_value == result.p_value and back.flagged and back.feature_names == ["a", "b"]
    assert np.array_equal(back.z, result.z) and back.n_reference == 30
    assert summary_columns(back) == {"misspecification_score": result.score,
                                     "misspecification_p": pytest.approx(1 / 31),
                                     "misspecification_flagged": True}
    assert with_note("title", back.title_note()) == \
        "title\nx_o atypical of the simulations (p = 0.032)"
    assert with_note("title", "") == "title"


# ---- real simulations: the LF simulator of the tiny config -------------------------------

@pytest.fixture(scope="module")
def simulations():
    """1000 LF simulations at prior draws, full traces kept: (reference x (800, f), held-out
    x (200, f), held-out traces (200, T) [mV], dt [ms], stimulus, feature names)."""
    config = load_config(TINY, CONFIG_SCHEMA)
    experiment = shards.experiment_simulation(config, "lf")
    dt = experiment.simulator.dt
    prior = {**shards.prior_settings(config, "lf", 0), "shard_size": N_REFERENCE + N_HELD_OUT}
    theta, names = sample_prior_shard(prior)
    shard = simulate_shard(theta, names, experiment.with_traces(dt),
                           simulation_seeds(config["seed"], "lf", 0, len(theta)))
    assert shard.valid.all()
    stimulus = Stimulus(**{key: config["stimulus"][key] for key in ("duration", "t_on", "t_off")})
    return (shard.x[:N_REFERENCE], shard.x[N_REFERENCE:], shard.traces[N_REFERENCE:].astype(float),
            dt, stimulus, list(config["features"]))


def verdict(simulations, trace):
    reference, _, _, dt, stimulus, names = simulations
    return typicality(reference, compute_features(trace[None], dt, stimulus, names)[0], names,
                      ALPHA)


def spiking(simulations, count=10):
    """Indices of the first ``count`` held-out traces with at least 2 spikes."""
    held = simulations[1]
    return np.flatnonzero(held[:, 0] >= 2)[:count]


def test_recordings_the_model_simulated_pass(simulations):
    _, held, traces, dt, stimulus, names = simulations
    assert np.allclose(compute_features(traces[:5], dt, stimulus, names), held[:5])
    first = spiking(simulations, 1)[0]
    result = verdict(simulations, traces[first])
    assert result.p_value >= ALPHA and not result.flagged
    silent = np.flatnonzero(held[:, 0] == 0)[0]
    assert not verdict(simulations, traces[silent]).flagged


def test_false_alarms_over_held_out_simulations_stay_near_alpha(simulations):
    """Against one fixed reference of n, x_o is flagged at level a when its score ranks
    among the K = ceil(a (n + 1)) - 1 largest of n + 1, so the false-alarm probability given
    the reference is Beta(K, n + 1 - K) (mean about a) and the count over independent
    held-out simulations is beta-binomial: it must lie in that distribution's 99.9% range."""
    reference, held, _, _, _, names = simulations
    p = np.array([typicality(reference, x, names, ALPHA).p_value for x in held])
    for level in (0.01, 0.05, 0.1):
        count = int((p < level).sum())
        k = math.ceil(level * (N_REFERENCE + 1)) - 1
        low, high = stats.betabinom.ppf([0.0005, 0.9995], N_HELD_OUT, k, N_REFERENCE + 1 - k)
        assert low <= count <= high, (level, count, low, high)


@pytest.mark.parametrize("kind", ["shift +30 mV", "shift -20 mV", "voltage x2 about rest",
                                  "spikes widened (1 ms boxcar)"])
def test_traces_the_model_cannot_produce_are_flagged(simulations, kind):
    """Every one of the first 10 spiking held-out traces, transformed."""
    traces, on = simulations[2], int(round(simulations[4].t_on / simulations[3]))
    for i in spiking(simulations):
        v = traces[i]
        rest = v[:on].mean()
        changed = {"shift +30 mV": v + 30.0, "shift -20 mV": v - 20.0,
                   "voltage x2 about rest": rest + 2.0 * (v - rest),
                   "spikes widened (1 ms boxcar)": np.convolve(v, np.ones(40) / 40, "same")}[kind]
        result = verdict(simulations, changed)
        assert result.flagged, (kind, i, result.p_value, result.describe_features())
    if kind.startswith("shift"):
        names = simulations[5]
        assert {names[j] for j in result.most_atypical(2)} & {"rest_mean", "stim_mean"}


@pytest.mark.parametrize("shape", ["square wave", "sinusoid", "peaked sinusoid", "flat"])
def test_other_neuron_like_traces_are_flagged(simulations, shape):
    dt, stimulus = simulations[3], simulations[4]
    t = np.arange(simulations[2].shape[1]) * dt
    window = (t >= stimulus.t_on) & (t < stimulus.t_off)
    phase = t[window] - stimulus.t_on
    v = np.full_like(t, -65.0)
    v[window] = {"square wave": np.where(phase % 10.0 < 2.0, 20.0, -65.0),
                 "sinusoid": -55.0 + 15.0 * np.sin(2 * np.pi * phase / 8.0),
                 "peaked sinusoid": -65.0 + 90.0 * np.sin(np.pi * phase / 10.0) ** 20,
                 "flat": -65.0}[shape]
    result = verdict(simulations, v)
    assert result.flagged, (shape, result.p_value, result.describe_features())
