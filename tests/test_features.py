"""Summary features on synthetic traces with known spikes, and on silent traces."""

import numpy as np
import pytest
from scipy import stats

from mfnpe.simulation import features
from mfnpe.stimulus.step import Stimulus
from mfnpe.stimulus.windows import Windows

DT = 0.01  # ms
STIM = Stimulus(duration=120.0, t_on=10.0, t_off=110.0)


def synthetic_trace(spike_times_ms, rest=-65.0, width_ms=1.0, peak=30.0):
    """(T,) trace at rest with triangular spikes peaking at ``peak`` at the given times."""
    t = np.arange(STIM.n_steps(DT)) * DT
    v = np.full_like(t, rest)
    for ts in spike_times_ms:
        v = np.maximum(v, peak - (peak - rest) * np.abs(t - ts) / (width_ms / 2))
    return v


def as_dict(v):
    return dict(zip(features.NAMES, features.compute_features(v[None], DT, STIM)[0]))


def test_spike_count_isis_and_latency_of_known_spikes():
    times = [15.0, 30.0, 50.0, 80.0]
    f = as_dict(synthetic_trace(times))
    assert f["spike_count"] == 4
    assert f["first_spike_latency"] == pytest.approx(5.0, abs=DT)
    isis = np.diff(times)
    assert f["isi_mean"] == pytest.approx(isis.mean(), abs=DT)
    assert f["isi_cv"] == pytest.approx(isis.std() / isis.mean(), abs=1e-3)
    assert np.allclose(features.spike_times(synthetic_trace(times), DT), times, atol=DT)


def test_spikes_outside_the_window_are_not_counted_and_close_peaks_merge():
    # one spike before onset, one after offset, a double peak 0.3 ms apart inside
    v = synthetic_trace([5.0, 40.0, 112.0])
    bump = synthetic_trace([40.3], peak=20.0, width_ms=0.2)
    v = np.maximum(v, bump)
    v[int(40.15 / DT)] = -20.0  # dips below threshold between the two peaks
    f = as_dict(v)
    assert f["spike_count"] == 1
    assert f["first_spike_latency"] == pytest.approx(30.0, abs=DT)
    assert f["isi_mean"] == pytest.approx(100.0)  # window length when < 2 spikes
    assert f["isi_cv"] == 0.0


def test_moments_match_scipy():
    rng = np.random.default_rng(0)
    v = -60.0 + 3.0 * rng.gamma(2.0, size=STIM.n_steps(DT))
    f = as_dict(v)
    on, off = int(STIM.t_on / DT), int(STIM.t_off / DT)
    window, rest = v[on:off], v[:on]
    assert f["rest_mean"] == pytest.approx(rest.mean())
    assert f["rest_std"] == pytest.approx(rest.std())
    assert f["stim_mean"] == pytest.approx(window.mean())
    assert f["stim_var"] == pytest.approx(window.var())
    assert f["stim_skew"] == pytest.approx(stats.skew(window), rel=1e-6)
    assert f["stim_kurtosis"] == pytest.approx(stats.kurtosis(window), rel=1e-6)


def test_silent_and_flat_traces_have_defined_values():
    x = features.compute_features(np.full((2, STIM.n_steps(DT)), -65.0), DT, STIM)
    assert np.all(np.isfinite(x))
    f = dict(zip(features.NAMES, x[0]))
    assert f["spike_count"] == 0
    assert f["first_spike_latency"] == f["isi_mean"] == 100.0
    assert f["stim_var"] == f["stim_skew"] == f["stim_kurtosis"] == f["isi_cv"] == 0.0


def test_features_are_selected_by_name_in_the_given_order():
    v = synthetic_trace([20.0, 40.0])[None]
    x = features.compute_features(v, DT, STIM, ["isi_mean", "spike_count"])
    assert x.shape == (1, 2) and x[0, 0] == pytest.approx(20.0, abs=DT) and x[0, 1] == 2
    with pytest.raises(ValueError, match="unknown feature.*'spikes'"):
        features.compute_features(v, DT, STIM, ["spikes"])


def test_diverged_traces_are_flagged():
    v = np.full((4, 100), -65.0)
    v[1, 50] = np.nan
    v[2, 60] = np.inf
    v[3, 70] = 5000.0
    assert features.valid_traces(v).tolist() == [True, False, False, False]


def test_windows_put_rest_before_the_first_epoch_and_the_stimulus_anywhere():
    """A recording's sweep (mfnpe.stimulus.protocols.feature_windows): rest on
    [0, rest_end), the stimulus window on [t_on, t_off), which may start later."""
    rng = np.random.default_rng(1)
    v = synthetic_trace([40.0, 60.0, 80.0]) + 0.1 * rng.standard_normal(STIM.n_steps(DT))
    windows = Windows(rest_end=5.0, t_on=30.0, t_off=90.0)
    got = dict(zip(features.NAMES, features.compute_features(v[None], DT, windows)[0]))
    assert got["rest_mean"] == pytest.approx(v[:500].astype(np.float32).mean(), abs=1e-4)
    assert got["rest_std"] == pytest.approx(v[:500].astype(np.float32).std(), abs=1e-4)
    assert got["stim_mean"] == pytest.approx(v[3000:9000].astype(np.float32).mean(), abs=1e-4)
    assert got["spike_count"] == 3 and got["first_spike_latency"] == pytest.approx(10.0)
    # rest_end = t_on is the step's windows: the same features as the Stimulus
    same = Windows(STIM.t_on, STIM.t_on, STIM.t_off)
    np.testing.assert_array_equal(features.compute_features(v[None], DT, same),
                                  features.compute_features(v[None], DT, STIM))


def test_stand_ins_are_the_values_of_traces_with_too_few_spikes():
    """mfnpe.simulation.stand_ins.SPIKES_MEASURED against the features: with one spike
    fewer than a feature needs, it holds its documented stand-in (the window's length,
    0, the window's highest V); with as many, a stand-in of window length or 0 is gone;
    stand_ins marks exactly the rows with too few spikes."""
    from mfnpe.simulation.stand_ins import SPIKES_MEASURED, stand_ins

    window = STIM.t_off - STIM.t_on
    times = [15.0, 25.0, 40.0, 60.0, 85.0]  # adapting intervals
    assert set(SPIKES_MEASURED) <= set(features.NAMES)
    for name, needed in SPIKES_MEASURED.items():
        fewer = synthetic_trace(times[:needed - 1])
        highest = fewer[int(STIM.t_on / DT):int(STIM.t_off / DT)].max()
        stand_in = {"first_spike_latency": window, "isi_mean": window, "first_isi": window,
                    "ap_peak": highest, "ap_threshold": highest}.get(name, 0.0)
        assert as_dict(fewer)[name] == pytest.approx(stand_in), name
        if name not in ("ap_peak", "ap_threshold", "ahp_depth"):  # may equal it by chance
            assert as_dict(synthetic_trace(times[:needed]))[name] != pytest.approx(stand_in)
    names = ["spike_count", "isi_mean", "first_spike_latency", "rest_mean"]
    x = features.compute_features(np.stack([synthetic_trace(times[:k]) for k in range(3)]),
                                  DT, STIM, names)
    np.testing.assert_array_equal(stand_ins(x, names), [[False, True, True, False],
                                                        [False, True, False, False],
                                                        [False, False, False, False]])
    swept = ["spike_count@2", "isi_mean@2", "isi_mean@5"]  # sweep 5 has no spike count
    np.testing.assert_array_equal(stand_ins([[1.0, 100.0, 100.0]], swept),
                                  [[False, True, False]])
