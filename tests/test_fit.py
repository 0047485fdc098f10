"""The measure of fit (mfnpe.observation.fit): known answers on hand-made features and
traces, the tolerance table, the MAP draw, the ppc.h5 round trip, the table's columns,
the figure's notes and the lines printed at the end of a run."""

import math

import numpy as np
import pandas as pd
import pytest

from mfnpe.observation import fit
from mfnpe.observation.fit import (BLOCK_MV, TOLERANCES, SweepWindows, TraceMeasures,
                                   console_lines, fit_set, model_columns,
                                   recording_columns, recording_fit, sweep_windows, tolerance)
from mfnpe.observation.measures import recorded_measures, trace_measures
from mfnpe.observation.posterior import (PredictiveCheck, PredictiveSet, observe,
                                         read_observation, read_predictive, summary_rows,
                                         write_observation, write_predictive)
from mfnpe.prior import BoxPrior
from mfnpe.simulation.features import FEATURES, all_features, check_names
from mfnpe.stimulus.windows import Windows

COUNT = ["spike_count"]


def counts(values):
    """Simulated spike counts as (n, 1) features, all valid."""
    x = np.asarray(values, dtype=float)[:, None]
    return x, np.ones(len(x), dtype=bool)


# ---- the spike-count tolerance: ±20 %, at least ±1 spike ----

def test_spike_count_fraction_of_a_five_spike_recording():
    x, valid = counts([5, 6, 4, 3, 7, 0, 10, 5])  # within ±1: 5, 6, 4, 5
    result = fit_set(np.array([5.0]), COUNT, x, valid)
    (sweep,) = result.sweeps
    assert sweep.spikes == 4 / 8 and sweep.recorded_spikes == 5
    assert sweep.silent == 1 / 8  # the 0; no trace measures, so no block to tell apart
    assert math.isnan(sweep.blocked) and math.isnan(sweep.prestimulus)
    assert result.n == 8 and result.invalid == 0


def test_at_small_counts_the_tolerance_is_one_spike_and_at_large_twenty_percent():
    x, valid = counts([0, 1, 2, 3, 4])
    assert fit_set(np.array([2.0]), COUNT, x, valid).sweeps[0].spikes == 3 / 5  # 1, 2, 3
    assert fit_set(np.array([1.0]), COUNT, x, valid).sweeps[0].spikes == 3 / 5  # 0, 1, 2
    x, valid = counts([11, 12, 15, 18, 19])  # 20 % of 15 is 3 (3.0000000000000004 in floats)
    assert fit_set(np.array([15.0]), COUNT, x, valid).sweeps[0].spikes == 3 / 5
    x, valid = counts([7, 8, 12, 13])  # 20 % of 10 is 2: 8 and 12 in, 7 and 13 out
    assert fit_set(np.array([10.0]), COUNT, x, valid).sweeps[0].spikes == 2 / 4


def test_silence_is_no_failure_where_the_recording_is_silent():
    x, valid = counts([0, 0, 1, 2])
    (sweep,) = fit_set(np.array([0.0]), COUNT, x, valid).sweeps
    assert sweep.spikes == 3 / 4 and math.isnan(sweep.silent)


def test_diverged_simulations_count_against_every_fraction():
    x = np.array([[5.0, -65.0], [np.nan, np.nan], [0.0, -65.0], [5.0, -61.0]])
    valid = np.array([True, False, True, True])
    result = fit_set(np.array([5.0, -65.0]), ["spike_count", "rest_mean"], x, valid)
    (sweep,) = result.sweeps
    assert result.invalid == 1 / 4
    assert sweep.spikes == 2 / 4  # rows 0 and 3; the diverged one is not within
    assert sweep.features == {"spike_count": 2 / 4, "rest_mean": 2 / 4}  # -61 is 4 mV off
    assert sweep.all_features == 1 / 4 and sweep.silent == 1 / 4


def test_every_feature_fraction_and_the_sweeps():
    names = ["spike_count@3", "rest_mean@3", "spike_count@4", "rest_mean@4"]
    recorded = np.array([2.0, -65.0, 6.0, -64.0])
    x = np.array([[2, -63, 6, -64],     # all within
                  [3, -69, 7, -60],     # rest off on both sweeps (4 mV)
                  [0, -65, 9, -64],     # sweep 3 silent; 9 is off 6 by more than 1.2
                  [2, -62, 5, -61.5]],  # rest 3 mV and 2.5 mV off: within
                 dtype=float)
    result = fit_set(recorded, names, x, np.ones(4, dtype=bool))
    three, four = result.sweeps
    assert (three.sweep, four.sweep) == (3, 4)
    assert three.spikes == 3 / 4 and three.all_features == 2 / 4 and three.silent == 1 / 4
    assert four.spikes == 3 / 4 and four.all_features == 2 / 4 and four.silent == 0
    assert three.features["rest_mean"] == 3 / 4 and four.features["rest_mean"] == 3 / 4
    assert result.worst("spikes") == 3 / 4 and result.worst("silent") == 1 / 4


def test_the_worst_sweep_is_the_lowest_match_and_the_highest_failure():
    names = ["spike_count@1", "spike_count@2"]
    x = np.array([[5, 0], [5, 0], [5, 3], [0, 3]], dtype=float)
    result = fit_set(np.array([5.0, 3.0]), names, x, np.ones(4, dtype=bool))
    assert [s.spikes for s in result.sweeps] == [3 / 4, 2 / 4]
    assert [s.silent for s in result.sweeps] == [1 / 4, 2 / 4]
    assert result.worst("spikes") == 2 / 4 and result.worst("silent") == 2 / 4
    assert math.isnan(result.worst("blocked"))


# ---- the tolerance table ----

def test_every_feature_has_a_tolerance_with_a_unit_and_a_reason():
    for name, (unit, _) in FEATURES.items():
        found = tolerance(f"{name}@7")
        assert found is TOLERANCES[name]
        assert found.absolute > 0 and found.relative >= 0 and found.reason
        assert found.unit in (unit, "spikes")
    assert TOLERANCES["spike_count"].absolute == 1 and TOLERANCES["spike_count"].relative == 0.2
    assert TOLERANCES["rest_mean"].half_width(-70.0) == 3.0
    with pytest.raises(ValueError, match="'ap_width' has no tolerance.*TOLERANCES"):
        fit_set(np.array([1.0]), ["ap_width"], np.ones((2, 1)), np.ones(2, dtype=bool))


def test_tolerance_bands_are_the_recorded_value_plus_minus_the_tolerance():
    bands = fit.tolerance_bands(np.array([10.0, -65.0, 100.0]),
                                ["spike_count@1", "rest_mean@1", "stim_var@1"])
    assert bands == [(8.0, 12.0), (-68.0, -62.0), (70.0, 130.0)]


# ---- block and pre-stimulus firing, on hand-made traces ----

DT = 0.1
WINDOW = SweepWindows(sweep=2, duration=100.0, rest_end=20.0, t_on=20.0, t_off=80.0)
"""Rest [0, 20) ms, stimulus [20, 80) ms, its last quarter [65, 80) ms (15 ms)."""


def trace(spikes_ms=(), plateau_from=None, plateau_mv=-30.0, duration=100.0):
    """-65 mV with 1 ms triangular spikes to +30 mV peaking at ``spikes_ms``, and from
    ``plateau_from`` ms on the potential ``plateau_mv``."""
    t = np.arange(int(round(duration / DT))) * DT
    v = np.full(len(t), -65.0)
    if plateau_from is not None:
        v[t >= plateau_from] = plateau_mv
    for at in spikes_ms:
        v = np.maximum(v, 30.0 - 190.0 * np.abs(t - at))
    return v


TRACES = {
    "tonic": trace([30, 50, 70]),
    "blocked": trace([25, 30], plateau_from=35.0),  # two spikes, then -30 mV to the end
    "prestimulus": trace([10, 30, 75]),
    "silent": trace(),
    "depolarised": trace(plateau_from=20.0),  # -30 mV from onset without a spike: block
    "low plateau": trace([25], plateau_from=35.0, plateau_mv=-50.0),  # stopped, below -40
    # a slow firer on a plateau above -40 mV: 28 ms without a spike at the end, but that is
    # less than 2 of its 30 ms intervals, so not block
    "slow, high plateau": trace([22, 52], plateau_from=20.0, plateau_mv=-38.0),
}
BLOCKED = [False, True, False, False, True, False, False]


def test_trace_measures_of_hand_made_traces():
    measures = trace_measures(np.stack(list(TRACES.values())), DT, [WINDOW])
    assert measures.pre_spikes[:, 0].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert np.allclose(measures.quiet_end[:, 0], [10, 50, 5, 60, 60, 55, 28])
    assert np.allclose(measures.isi_mean[:, 0], [20, 5, 45, np.nan, np.nan, np.nan, 30],
                       equal_nan=True)
    spike = -65 + 47.5 / 15  # a spike adds its 47.5 mV ms to the last 15 ms
    assert measures.late_mean[:, 0] == pytest.approx([spike, -30, spike, -65, -30, -50, -38])
    assert measures.window_ms.tolist() == [60.0]
    assert measures.blocked()[:, 0].tolist() == BLOCKED
    assert measures.prestimulus()[:, 0].tolist() == [False, False, True] + [False] * 4
    assert BLOCK_MV == -40.0


def test_silent_blocked_and_prestimulus_fractions_of_hand_made_traces():
    traces = np.stack(list(TRACES.values()))
    windows = Windows(WINDOW.rest_end, WINDOW.t_on, WINDOW.t_off)
    x = all_features(traces, DT, windows)[:, check_names(["spike_count", "rest_mean"])]
    assert x[:, 0].tolist() == [3, 2, 2, 0, 0, 1, 2]  # spikes in [20, 80) ms
    names = ["spike_count@2", "rest_mean@2"]
    recorded = np.array([3.0, -65.0])
    measures = trace_measures(traces, DT, [WINDOW])
    (sweep,) = fit_set(recorded, names, x, np.ones(7, dtype=bool), measures,
                       trace_measures(TRACES["tonic"][None], DT, [WINDOW])).sweeps
    assert sweep.silent == 1 / 7  # "silent"; "depolarised" has no spike either but is blocked
    assert sweep.blocked == 2 / 7 and sweep.prestimulus == 1 / 7
    assert sweep.spikes == 4 / 7  # 3, 2, 2 and 2 within ±1 of 3; 0, 0 and 1 not
    assert sweep.recorded_blocked is False and sweep.recorded_prestimulus is False
    # a diverged simulation is in no state
    valid = np.array([True, False, False, True, True, True, True])
    (sweep,) = fit_set(recorded, names, x, valid, measures).sweeps
    assert sweep.blocked == 1 / 7 and sweep.prestimulus == 0


def test_sweeps_joined_in_time_are_measured_each_in_its_own_windows():
    other = SweepWindows(sweep=5, duration=50.0, rest_end=10.0, t_on=10.0, t_off=40.0)
    joined = np.concatenate([TRACES["blocked"], trace([5.0, 38.0], duration=50.0)])
    measures = trace_measures(joined[None], DT, [WINDOW, other])
    assert measures.blocked().tolist() == [[True, False]]
    assert measures.prestimulus().tolist() == [[False, True]]
    assert np.allclose(measures.quiet_end, [[50.0, 2.0]])  # the second sweep's 38 ms spike
    assert measures.window_ms.tolist() == [60.0, 30.0]
    with pytest.raises(ValueError, match="do not add up"):
        trace_measures(joined[None, :-10], DT, [WINDOW, other])


def test_the_windows_of_the_step_and_of_sweeps():
    (step,) = sweep_windows({"duration": 60.0, "t_on": 5.0, "t_off": 55.0})
    assert (step.sweep, step.rest_end, step.t_on, step.t_off) == (None, 5.0, 5.0, 55.0)
    assert step.late_start == 42.5
    sweeps = sweep_windows({"protocols": [
        {"sweep": 3, "duration": 150.0, "holding": 0.0, "epochs": [[46.85, 103.15, 200.0]]},
        {"sweep": 4, "duration": 150.0, "holding": 0.0,
         "epochs": [[10.0, 20.0, -50.0], [40.0, 100.0, 300.0]]}]})
    assert [(w.sweep, w.rest_end, w.t_on, w.t_off) for w in sweeps] == [
        (3, 46.85, 46.85, 150.0), (4, 10.0, 40.0, 140.0)]


# ---- the MAP, the file, the columns ----

class Gaussian:
    """q(theta | x) = N(x[:2], I) on a wide box."""

    prior = BoxPrior(("a", "b"), [-50.0, -50.0], [50.0, 50.0])
    feature_names = ["f0", "f1"]

    def sample(self, x, n, seed):
        return x[:2] + np.random.default_rng(seed).standard_normal((n, 2))

    def log_prob(self, theta, x):
        return -0.5 * np.sum((np.asarray(theta) - np.asarray(x)[:, :2]) ** 2, axis=1)


def test_the_map_is_the_most_probable_draw_and_survives_the_file(tmp_path):
    runs = [dict(method="mf_npe", n_lf=100, n_hf=10, seed=0),
            dict(method="npe", n_lf=0, n_hf=10, seed=0)]
    x = np.array([3.0, -2.0])
    result = observe("rec", "rec.h5", x, None, [Gaussian()] * 2, runs, 2000, 0)
    for index in range(2):
        draws = result.samples[index]
        best = draws[np.argmin(np.sum((draws - x) ** 2, axis=1))]
        assert np.array_equal(result.map_theta[index], best)
        assert np.linalg.norm(best - x) < 0.2  # near the mode of 2000 draws in 2 dimensions
    write_observation(tmp_path / "posterior.h5", result)
    back = read_observation(tmp_path / "posterior.h5")
    assert np.array_equal(back.map_theta, result.map_theta)
    assert summary_rows(back)[1]["map_b"] == result.map_theta[1, 1]


def hand_made_check(with_fit=True):
    """A predictive check of a recording of one 100 ms sweep (index 2) firing 3 spikes, with
    the hand-made traces as MF-NPE's draws and NPE's three first ones, and three tonic
    simulations at each MAP."""
    traces = np.stack(list(TRACES.values())).astype(np.float32)
    names = ["spike_count@2", "rest_mean@2"]
    windows = Windows(WINDOW.rest_end, WINDOW.t_on, WINDOW.t_off)
    x = all_features(traces, DT, windows)[:, check_names(["spike_count", "rest_mean"])]
    stimulus = {"protocols": [{"sweep": 2, "duration": 100.0, "holding": 0.0,
                               "epochs": [[20.0, 60.0, 200.0]]}]}
    measures = trace_measures(traces, DT, sweep_windows(stimulus)) if with_fit else None
    sets, map_sets = {}, {}
    for method, rows in (("mf_npe", slice(None)), ("npe", slice(0, 3))):
        run = dict(method=method, n_lf=100 if method == "mf_npe" else 0, n_hf=10, seed=0)
        n = len(x[rows])
        sets[method] = PredictiveSet(run, np.zeros((n, 1)), x[rows], np.ones(n, dtype=bool),
                                     traces[rows][:2], measures.take(rows) if with_fit else None)
        if with_fit:
            tonic = np.repeat(traces[:1], 3, axis=0)
            map_sets[method] = PredictiveSet(run, np.zeros((3, 1)), np.repeat(x[:1], 3, axis=0),
                                             np.ones(3, dtype=bool), tonic,
                                             trace_measures(tonic, DT, sweep_windows(stimulus)))
    recorded = recorded_measures(traces[0], DT, sweep_windows(stimulus)) if with_fit \
        else None
    return PredictiveCheck("rec", x[0], traces[0], DT, names, ["a"], sets, {}, map_sets,
                           recorded)


def test_the_fit_survives_the_ppc_file_and_fills_the_columns(tmp_path):
    write_predictive(tmp_path / "ppc.h5", hand_made_check())
    check = read_predictive(tmp_path / "ppc.h5")
    assert set(check.map_sets) == {"mf_npe", "npe"}
    assert check.sets["mf_npe"].measures.blocked()[:, 0].tolist() == BLOCKED
    assert check.measures.window_ms.tolist() == [60.0]
    result = recording_fit(check)
    assert [m.run["method"] for m in result.models] == ["mf_npe", "npe"]
    mf_npe = result.model(dict(method="mf_npe", n_lf=100, n_hf=10, seed=0))
    assert mf_npe.predictive.sweeps[0].blocked == 2 / 7
    assert mf_npe.map.sweeps[0].spikes == 1 and mf_npe.map.n == 3
    assert result.model(dict(method="npe", n_lf=0, n_hf=10, seed=1)) is None
    columns = model_columns(mf_npe)
    assert columns["fit_spikes@2"] == 4 / 7 and columns["fit_blocked@2"] == 2 / 7
    assert columns["fit_silent@2"] == 1 / 7 and columns["fit_prestim@2"] == 1 / 7
    assert columns["fit_within_rest_mean@2"] == 1.0 and columns["fit_invalid"] == 0
    assert columns["fit_map_spikes@2"] == 1 and columns["fit_map_spikes_worst"] == 1
    assert columns["fit_n"] == 7 and columns["fit_map_n"] == 3
    assert recording_columns(result) == {"recorded_spikes@2": 3.0, "recorded_blocked@2": 0.0,
                                         "recorded_prestim@2": 0.0}
    npe = model_columns(result.model(dict(method="npe", n_lf=0, n_hf=10, seed=0)))
    assert npe["fit_spikes@2"] == 1 and npe["fit_blocked_worst"] == 1 / 3
    assert set(npe) == set(columns)


def test_a_ppc_file_without_the_measures_gives_nan_where_it_cannot_tell(tmp_path):
    write_predictive(tmp_path / "ppc.h5", hand_made_check(with_fit=False))
    check = read_predictive(tmp_path / "ppc.h5")
    assert check.map_sets == {} and check.sets["npe"].measures is None
    assert check.measures is None
    result = recording_fit(check)
    assert math.isnan(recording_columns(result)["recorded_blocked@2"])
    columns = model_columns(result.models[0])
    assert math.isnan(columns["fit_blocked@2"]) and math.isnan(columns["fit_map_spikes@2"])
    assert columns["fit_map_n"] == 0 and columns["fit_spikes@2"] == 4 / 7


def test_the_step_stimulus_has_unsuffixed_columns():
    x, valid = counts([5, 6])
    model = fit.ModelFit({"method": "npe"}, fit_set(np.array([5.0]), COUNT, x, valid), None)
    columns = model_columns(model)
    assert columns["fit_spikes"] == 1 and columns["fit_spikes_worst"] == 1
    assert not any("@" in name for name in columns)


def test_the_figure_shows_the_fit_the_map_and_the_tolerances():
    from mfnpe.plots.observation import predictive_check
    check = hand_made_check()
    result = recording_fit(check)
    notes = {m.run["method"]: [fit.panel_note(s, ms) for s, ms in
                               zip(m.predictive.sweeps, m.map.sweeps)] for m in result.models}
    assert notes["mf_npe"][0].startswith("fit 57 % (±20 % spikes), 57 % all features")
    assert "block 29 %" in notes["mf_npe"][0] and "MAP: 100 % spikes" in notes["mf_npe"][0]
    figure = predictive_check(
        np.arange(1000) * DT, check.trace, {m: s.traces for m, s in check.sets.items()},
        check.x, {m: s.x for m, s in check.sets.items()}, check.feature_names, "rec",
        sweeps=[("sweep 2", 1000, (20.0, 80.0))], notes=notes,
        map_traces={m: s.traces[0] for m, s in check.map_sets.items()},
        tolerances=fit.tolerance_bands(check.x, check.feature_names))
    gids = [artist.get_gid() for ax in figure.axes for artist in ax.get_children()]
    assert {"fit:mf_npe:sweep 2", "fit:npe:sweep 2", "map:mf_npe", "map:npe",
            "tolerance:spike_count@2", "tolerance:rest_mean@2"} <= set(gids)
    texts = [artist.get_text() for ax in figure.axes for artist in ax.texts]
    assert notes["npe"][0] in texts


# ---- the end of a run ----

def test_the_console_names_every_recording_with_its_verdict_and_mf_npe_fit(tmp_path):
    rows = [
        {"recording": "cell", "method": "lf_npe", "misspecification_p": 0.05,
         "misspecification_flagged": False},
        {"recording": "cell", "method": "npe", "misspecification_p": 0.05,
         "misspecification_flagged": False, "fit_spikes_worst": 0.1, "fit_all_worst": 0.0,
         "fit_silent_worst": 0.5, "fit_blocked_worst": 0.2, "fit_prestim_worst": 0.3,
         "fit_invalid": 0.0, "fit_map_spikes_worst": 0.0, "fit_map_all_worst": 0.0},
        {"recording": "cell", "method": "mf_npe", "misspecification_p": 0.05,
         "misspecification_flagged": False, "fit_spikes_worst": 0.34, "fit_all_worst": 0.12,
         "fit_silent_worst": 0.2, "fit_blocked_worst": 0.05, "fit_prestim_worst": 0.0,
         "fit_invalid": 0.01, "fit_map_spikes_worst": 0.6, "fit_map_all_worst": 0.3},
        {"recording": "odd", "method": "mf_npe", "misspecification_p": 0.0099,
         "misspecification_flagged": True},
    ]
    path = tmp_path / "observations.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    cell, odd = console_lines(path)
    assert cell == ("cell: typical (p = 0.05); MF-NPE worst sweep: 34 % within ±20 % spikes, "
                    "12 % all features, silent 20 %, block 5 %, pre-stim. 0 %, invalid 1 %; "
                    "at the MAP 60 % / 30 %")
    assert odd == "odd: ATYPICAL, flagged (p = 0.0099); no measure of fit"
    assert fit.recording_lines(path) == {"cell": [cell], "odd": [odd]}
    assert console_lines(tmp_path / "missing.csv") == []
    assert fit.recording_lines(tmp_path / "missing.csv") == {}


def test_a_recorded_trace_that_does_not_cover_the_sweeps_has_no_state(caplog):
    assert recorded_measures(TRACES["tonic"][:-1], DT, [WINDOW], "cell") is None
    assert "cell: the stored trace (999 samples every 0.1 ms) does not cover" in caplog.text
    found = recorded_measures(TRACES["blocked"], DT, [WINDOW], "cell")
    assert found.blocked().tolist() == [[True]]


def test_block_needs_a_long_quiet_end_and_a_depolarised_one():
    # window 100 ms: quiet ends of 30 ms (>= 25 ms) unless 2 intervals are longer
    measures = TraceMeasures(
        pre_spikes=np.zeros((5, 1), dtype=int),
        quiet_end=np.array([[30.0], [30.0], [20.0], [30.0], [100.0]]),
        isi_mean=np.array([[10.0], [16.0], [np.nan], [np.nan], [np.nan]]),
        late_mean=np.array([[-35.0], [-35.0], [-35.0], [-45.0], [np.nan]]),
        window_ms=np.array([100.0]))
    assert measures.blocked()[:, 0].tolist() == [True, False, False, False, False]
    assert measures.take([1, 0]).quiet_end[:, 0].tolist() == [30.0, 30.0]
    assert measures.take([0]).window_ms.tolist() == [100.0]


def test_the_map_simulations_have_their_own_seed_stream():
    from mfnpe.observation.predictive import predictive_simulations
    from mfnpe.seeds import observation_seeds
    keys = ("mf_npe", 100, 10, 0)
    at_map = observation_seeds(0, "map", "rec", 5, *keys)
    assert not np.array_equal(at_map, observation_seeds(0, "predictive", "rec", 5, *keys))
    assert np.array_equal(at_map, observation_seeds(0, "map", "rec", 5, *keys))
    with pytest.raises(ValueError, match="purpose must be 'predictive' or 'map'"):
        predictive_simulations(np.zeros((1, 3)), ["gNa", "gK", "gL"], None, 0, "rec",
                               dict(method="npe", n_lf=0, n_hf=10, seed=0), purpose="other")


def test_the_most_probable_draw_is_a_mode_not_an_edge_of_the_box():
    """A posterior network whose unbounded density is a broad normal (SD 3 in logit units)
    around the box's centre: in theta's coordinates log q ~ -u^2/18 + |u| grows towards
    the edges up to |u| = 9, so the draw of highest q(theta | x) lies at an edge; the MAP
    (highest q in the unbounded coordinates) lies at the centre."""
    import torch

    from mfnpe.inference import NetworkSettings, Posterior
    from mfnpe.observation.posterior import observe
    from mfnpe.prior import BoxPrior

    class Centred(torch.nn.Module):
        """u ~ Normal(0, 3^2) in each of 2 dimensions, whatever x (one feature)."""

        condition_shape = (1,)

        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # a device for Posterior

        def log_prob(self, u, x):
            return torch.distributions.Normal(0.0, 3.0).log_prob(u).sum(-1)

        def sample(self, shape, condition):
            return 3.0 * torch.randn(*shape, condition.shape[0], 2)

    prior = BoxPrior(("a", "b"), np.array([0.0, 0.0]), np.array([10.0, 10.0]))
    posterior = Posterior(Centred(), prior, NetworkSettings(), ["f"])
    draws = posterior.sample(np.zeros(1), 4000, seed=1)
    in_box = posterior.log_prob(draws, np.zeros((4000, 1)))
    edge = draws[np.argmax(in_box)]
    assert np.abs(edge - 5.0).max() > 4.9  # the highest q(theta | x): at an edge
    result = observe("cell", "cell.h5", np.zeros(1), None, [posterior],
                     [dict(method="npe", n_lf=0, n_hf=10, seed=0)], 4000, 7)
    assert np.abs(result.map_theta[0] - 5.0).max() < 0.6  # the mode: the centre
