"""The electrophysiology features (mfnpe.simulation.features.EPHYS) against eFEL 5.7 and the
passive card, their values on silent traces, the named feature sets, and the ten default
features unchanged.

eFEL reads the samples as they are (``interp_step`` = dt) with the threshold
``SPIKE_THRESHOLD_MV`` and spikes only in the stimulus window (``strict_stiminterval``);
its window edges are put half a sample before ours (its windows include their ends, ours
do not). No timing is tested (tools/feature_backend.py measures the cost).
"""

from __future__ import annotations

from pathlib import Path

import efel
import numpy as np
import pytest
from mfnpe.hh import langevin
from mfnpe.hh.model import constants_table
from mfnpe.stimulus.step import Stimulus
from mfnpe.recordings.ephys import read_sweeps
from mfnpe.observation import passive
from mfnpe.stimulus.protocols import Epoch, Protocol
from mfnpe.stimulus.windows import (PASSIVE_BASELINE_MS, PASSIVE_MIN_BASELINE_MS, PassiveEpoch,
                                    Windows, epoch_windows, passive_epoch)
from mfnpe.plan.config import ConfigError, load_config, validate_config
from workflow_helpers import CONFIG_SCHEMA
from mfnpe.simulation import features
from mfnpe.simulation.feature_sets import FEATURE_SETS, resolve_features

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "tests/data/recordings"
SPIKES = ["spike_count", "ap_peak", "ap_threshold", "ap_amplitude", "ap_half_width",
          "ahp_depth", "adaptation_index", "first_isi"]
PASSIVE = ["input_resistance", "membrane_tau", "sag_ratio"]
RS_CELL = {"name": "pospischil_rs", "gNa": 56.0, "gK": 6.0, "gL": 0.0205, "VT": -56.2,
           "EL": -70.3, "tau_max": 608.0}
LF_DT = 0.025


def windows_of(protocol: Protocol) -> Windows:
    """The feature windows of a sweep, with its hyperpolarising epoch (what
    ``mfnpe.stimulus.protocols.feature_windows`` is to pass)."""
    epochs = [(e.start, e.duration, e.amplitude) for e in protocol.epochs]
    return Windows(*epoch_windows(epochs),
                   passive=passive_epoch(epochs, protocol.holding))


# ------------------------------------------------------------------------------ eFEL


def _efel(trace, dt, start, end, names, **settings):
    efel.reset()
    for name, value in {"Threshold": features.SPIKE_THRESHOLD_MV, "strict_stiminterval": True,
                        "interp_step": dt, **settings}.items():
        efel.set_setting(name, value)
    t = np.arange(trace.size) * dt
    found = efel.get_feature_values(
        [{"T": t, "V": np.asarray(trace, dtype=np.float32).astype(np.float64),
          "stim_start": [start - dt / 2], "stim_end": [end - dt / 2]}],
        names, raise_warnings=False)[0]
    efel.reset()
    return found


def _mean(values):
    return None if values is None or len(values) == 0 else float(np.mean(values))


def efel_spike_features(trace, dt, windows) -> dict:
    """Our spike features as eFEL computes them; None where eFEL gives none."""
    found = _efel(trace, dt, windows.t_on, windows.t_off,
                  ["spike_count", "peak_voltage", "AP_begin_voltage", "AP_amplitude",
                   "AP_duration_half_width", "min_between_peaks_values", "adaptation_index",
                   "all_ISI_values"])
    count = int(found["spike_count"][0])
    if count == 0:
        return {"spike_count": 0.0}
    begin = _mean(found["AP_begin_voltage"])
    troughs = _mean(found["min_between_peaks_values"])
    isis = found["all_ISI_values"]
    return {
        "spike_count": float(count),
        "ap_peak": _mean(found["peak_voltage"]),
        "ap_threshold": begin,
        "ap_amplitude": _mean(found["AP_amplitude"]),
        "ap_half_width": _mean(found["AP_duration_half_width"]),
        "ahp_depth": None if begin is None or troughs is None else begin - troughs,
        # eFEL gives none below 4 spikes after its skip: ours is 0 there
        "adaptation_index": (0.0 if found["adaptation_index"] is None
                             else float(found["adaptation_index"][0])),
        "first_isi": windows.t_off - windows.t_on if isis is None else float(isis[0]),
    }


def efel_passive_features(trace, dt, epoch) -> dict:
    """eFEL's voltage_base over our baseline, steady_state_voltage_stimend over our last
    20 % (its stim_start moved back: it averages the last 10 %), minimum_voltage,
    sag_ratio1 and time_constant on the epoch."""
    start = epoch.start - dt / 2
    found = _efel(trace, dt, epoch.start, epoch.end,
                  ["voltage_base", "minimum_voltage", "sag_ratio1", "time_constant"],
                  voltage_base_start_perc=(epoch.baseline_start - dt / 2) / start,
                  voltage_base_end_perc=1.0)
    moved = epoch.end - 2.0 * (epoch.end - epoch.start)
    steady = _efel(trace, dt, moved, epoch.end, ["steady_state_voltage_stimend"])
    one = {name: None if value is None else float(value[0]) for name, value in found.items()}
    one["steady_state"] = float(steady["steady_state_voltage_stimend"][0])
    return one


def assert_spikes_match_efel(x, v, dt, windows, label):
    """Every spike feature of every trace equals eFEL's (relative 1e-9) where eFEL gives one;
    returns the spike counts."""
    counts = []
    for row, trace in zip(x, v):
        ours = dict(zip(SPIKES, row))
        theirs = efel_spike_features(trace, dt, windows)
        counts.append(theirs["spike_count"])
        for name, value in theirs.items():
            if value is not None:
                assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-9), \
                    f"{label}: {name} {ours[name]} vs eFEL {value} ({theirs})"
    return np.array(counts)


@pytest.fixture(scope="module")
def lf_traces():
    """Pospischil RS cells (subunit_langevin, dt 0.025 ms) at 12 (area, gM) pairs under a
    recording-like +200 pA and a -100 pA step of 500 ms: ``{name: (v (12, T), windows)}``."""
    areas, g_m = np.meshgrid([6000.0, 12000.0, 25000.0, 60000.0], [0.02, 0.075, 0.2])
    theta = np.column_stack([areas.ravel(), g_m.ravel()])
    constants = constants_table(RS_CELL, theta, ("area", "gM"))
    seeds = np.arange(theta.shape[0], dtype=np.uint32) + 24
    found = {}
    for name, amplitude in (("step", 200.0), ("hyper", -100.0)):
        protocol = Protocol(700.0, 0.0, (Epoch(146.85, 500.0, amplitude),))
        v = langevin.simulate_subunit_langevin(constants, protocol, LF_DT, seeds).v
        assert features.valid_traces(v).all()
        found[name] = (v, windows_of(protocol))
    return found


def test_spike_features_equal_efel_on_simulated_cells(lf_traces):
    v, windows = lf_traces["step"]
    x = features.compute_features(v, LF_DT, windows, SPIKES)
    counts = assert_spikes_match_efel(x, v, LF_DT, windows, "LF")
    assert (counts == 0).any() and (counts >= 5).sum() >= 4  # silent and adapting cells


def test_spike_features_equal_efel_on_real_sweeps():
    checked = []
    for path, sweeps in (("171116sh_0019.abf", [2, 3, 4, 6]), ("18711001.abf", [8, 14, 29])):
        for sweep in read_sweeps(RECORDINGS / path, sweeps):
            windows = windows_of(sweep.protocol)
            x = features.compute_features(sweep.voltage[None], sweep.dt, windows, SPIKES)
            checked += list(assert_spikes_match_efel(x, sweep.voltage[None], sweep.dt, windows,
                                                     f"{path} sweep {sweep.index}"))
    assert min(checked) >= 1 and max(checked) >= 9


def test_passive_features_equal_the_passive_card_and_efel_on_real_sweeps():
    """input_resistance, membrane_tau and sag_ratio equal mfnpe.observation.passive's
    pulse measures (relative 1e-5: our traces are float32); the baseline and steady state
    behind input_resistance equal eFEL's; membrane_tau (fitted from 10 % of the peak
    deflection to the peak) is within 20 % of eFEL's time_constant (its own decay window)."""
    for path, sweeps in (("18711001.abf", [0, 3, 10]), ("171116sh_0019.abf", [0, 1])):
        for sweep in read_sweeps(RECORDINGS / path, sweeps):
            windows = windows_of(sweep.protocol)
            epoch = windows.passive
            assert epoch.current_pA == -100.0
            x = features.compute_features(sweep.voltage[None], sweep.dt, windows, PASSIVE)[0]
            ours = dict(zip(PASSIVE, x))
            card, _ = passive.sweep_pulses(sweep)
            pulse = next(p for p in card if p.start_ms == pytest.approx(epoch.start))
            assert ours["input_resistance"] == pytest.approx(pulse.input_resistance_MOhm, rel=1e-5)
            assert ours["membrane_tau"] == pytest.approx(pulse.tau_m_ms, rel=1e-4)
            assert ours["sag_ratio"] == pytest.approx(pulse.sag_ratio, rel=1e-4, abs=1e-6)
            theirs = efel_passive_features(sweep.voltage, sweep.dt, epoch)
            deflection = theirs["steady_state"] - theirs["voltage_base"]
            assert ours["input_resistance"] == pytest.approx(deflection / (epoch.current_pA / 1000),
                                                             rel=1e-6)
            if theirs["time_constant"] is not None:
                assert ours["membrane_tau"] == pytest.approx(theirs["time_constant"], rel=0.2)


def test_passive_features_on_simulated_cells(lf_traces):
    """Noisy LF cells: equal the passive card's measures where it measures the pulse;
    deterministic ones: also sag_ratio = eFEL's sag_ratio1 (no noise, so the 1 ms smoothing
    moves the peak by < 0.01 mV) and the resistance = eFEL's."""
    v, windows = lf_traces["hyper"]
    epoch = windows.passive
    x = features.compute_features(v, LF_DT, windows, PASSIVE)
    t = np.arange(v.shape[1]) * LF_DT
    measured = 0
    for row, trace in zip(x, v):
        try:
            pulse = passive.measure_pulse(t, trace.astype(np.float64), LF_DT, epoch.start,
                                          epoch.end - epoch.start, epoch.current_pA,
                                          epoch.start)
        except passive.UnmeasurablePulse:
            continue
        measured += 1
        np.testing.assert_allclose(row, [pulse.input_resistance_MOhm, pulse.tau_m_ms,
                                         pulse.sag_ratio], rtol=1e-4, atol=1e-6)
    assert measured >= 10
    protocol = Protocol(700.0, 0.0, (Epoch(146.85, 500.0, -100.0),))
    table = constants_table(RS_CELL, np.array([[6000.0, 0.02], [15000.0, 0.2]]), ("area", "gM"))
    v = langevin.simulate_deterministic(table, protocol, LF_DT, np.zeros(2, np.uint32)).v
    x = features.compute_features(v, LF_DT, windows, PASSIVE)
    for (resistance, tau, sag), trace in zip(x, v):
        theirs = efel_passive_features(trace, LF_DT, epoch)
        assert resistance == pytest.approx((theirs["steady_state"] - theirs["voltage_base"])
                                           / (epoch.current_pA / 1000), rel=1e-6)
        assert sag == pytest.approx(theirs["sag_ratio1"], abs=2e-3)
        assert tau > 0.0


def test_membrane_tau_and_input_resistance_of_an_exponential_charging():
    dt, tau, deflection = 0.05, 20.0, -12.0
    t = np.arange(int(700 / dt)) * dt
    v = np.full(t.size, -65.0)
    inside = (t >= 100.0) & (t < 600.0)
    v[inside] += deflection * -np.expm1(-(t[inside] - 100.0) / tau)
    v[t >= 600.0] += deflection * np.exp(-(t[t >= 600.0] - 600.0) / tau)
    windows = Windows(100.0, 100.0, 600.0, PassiveEpoch(100.0, 600.0, -60.0))
    resistance, fitted, sag = features.compute_features(v[None], dt, windows, PASSIVE)[0]
    assert resistance == pytest.approx(deflection / -0.060, rel=1e-5)  # 200 MΩ
    assert fitted == pytest.approx(tau, rel=1e-3)
    assert 0.0 <= sag < 1e-6


EPHYS_RATE_TOLERANCES = {  # |at 40 or 20 kHz - at 200 kHz| (mV, ms, 1, MΩ)
    "spike_count": 0.0, "ap_peak": 0.2, "ap_threshold": 0.5, "ap_amplitude": 0.6,
    "ap_half_width": 0.02, "ahp_depth": 0.5, "adaptation_index": 0.005, "first_isi": 0.1,
    "input_resistance": 0.05, "membrane_tau": 0.02, "sag_ratio": 0.005,
}
"""Simulations run at the simulator's dt and recordings are read at their own rate: the
features must not depend on it. dV/dt at a coarser step is lower at the threshold (the
threshold a little higher); the sampled peak a little lower."""


def test_ephys_features_hardly_depend_on_the_sampling_rate():
    table = constants_table(RS_CELL, np.array([[6000.0, 0.02], [12000.0, 0.075],
                                               [25000.0, 0.2]]), ("area", "gM"))
    dt = 0.005
    for amplitude in (200.0, -100.0):
        protocol = Protocol(700.0, 0.0, (Epoch(146.85, 500.0, amplitude),))
        windows = windows_of(protocol)
        v = langevin.simulate_deterministic(table, protocol, dt, np.zeros(3, np.uint32)).v
        reference = features.compute_features(v, dt, windows, "ephys")
        for step in (5, 10):  # 40 and 20 kHz
            coarse = features.compute_features(v[:, ::step], dt * step, windows, "ephys")
            for j, name in enumerate(FEATURE_SETS["ephys"]):
                if name in EPHYS_RATE_TOLERANCES:
                    np.testing.assert_allclose(coarse[:, j], reference[:, j],
                                               atol=EPHYS_RATE_TOLERANCES[name],
                                               err_msg=f"{name} at {1 / (dt * step):g} kHz")
        if amplitude > 0:
            assert reference[:, 0].min() >= 1 and reference[:, 0].max() >= 10


# ------------------------------------------------------------------- defined values


def test_silent_traces_have_the_documented_values():
    dt = 0.025
    t = np.arange(int(700 / dt)) * dt
    flat = np.full(t.size, -65.0)
    bump = -65.0 + 8.0 * np.exp(-((t - 300.0) / 30.0) ** 2)  # subthreshold, highest -57 mV
    windows = Windows(100.0, 100.0, 600.0)  # no hyperpolarising epoch
    x = features.compute_features(np.stack([flat, bump]), dt, windows, list(features.EPHYS))
    assert np.isfinite(x).all()
    for row, top in zip(x, (-65.0, bump.max())):
        got = dict(zip(features.EPHYS, row))
        assert got["ap_peak"] == got["ap_threshold"] == pytest.approx(top, abs=1e-5)
        assert got["first_isi"] == 500.0
        for name in ("ap_amplitude", "ap_half_width", "ahp_depth", "adaptation_index",
                     *PASSIVE):
            assert got[name] == 0.0, name
    # a flat trace under a hyperpolarising epoch: no deflection, so no τ and no sag
    epoch = Windows(100.0, 100.0, 600.0, PassiveEpoch(100.0, 600.0, -50.0))
    assert features.compute_features(flat[None], dt, epoch, PASSIVE).tolist() == [[0.0, 0.0, 0.0]]
    # and the step stimulus has none
    assert features.all_features(flat[None], dt, Stimulus(700.0, 100.0, 600.0))[
        0, features.check_names(PASSIVE)].tolist() == [0.0, 0.0, 0.0]


def test_one_and_three_spikes_have_no_isi_or_adaptation(lf_traces):
    v, windows = lf_traces["step"]
    x = features.compute_features(v, LF_DT, windows, ["spike_count", "first_isi",
                                                      "adaptation_index"])
    few = x[:, 0] < 4
    assert np.all(x[few, 2] == 0.0)
    assert np.all(x[x[:, 0] < 2, 1] == 500.0)


# -------------------------------------------------------------------------- windows


def test_the_passive_epoch_is_the_longest_hyperpolarising_one_after_the_holding_current():
    assert passive_epoch([(10.0, 100.0, 50.0)], 0.0) is None
    assert passive_epoch([], 0.0) is None
    # the longest below holding; its baseline the last 100 ms of holding at most
    found = passive_epoch([(20.0, 300.0, -100.0), (820.0, 500.0, 100.0),
                                    (1500.0, 400.0, -50.0)], 0.0)
    assert found == PassiveEpoch(1500.0, 1900.0, -50.0, 1400.0)
    # relative to the holding current; one entered straight from another epoch is skipped
    found = passive_epoch([(20.0, 100.0, 50.0), (120.0, 300.0, -20.0),
                                    (500.0, 200.0, -20.0)], 10.0)
    assert found == PassiveEpoch(500.0, 700.0, -30.0, 420.0)
    assert PassiveEpoch(30.0, 60.0).baseline_start == 0.0
    with pytest.raises(ValueError, match="passive epoch"):
        PassiveEpoch(30.0, 20.0)
    # the windows of before keep their meaning: no passive epoch
    assert Windows(1.0, 2.0, 3.0) == Windows(1.0, 2.0, 3.0, None)


def test_the_recordings_hyperpolarising_epochs():
    sweep = read_sweeps(RECORDINGS / "18711001.abf", [10])[0]
    windows = windows_of(sweep.protocol)
    assert (windows.t_on, windows.t_off) == pytest.approx((823.4, 1323.4))
    epoch = windows.passive
    assert (epoch.start, epoch.end, epoch.current_pA, epoch.baseline_start) == pytest.approx(
        (23.4, 323.4, -100.0, 0.0))


def test_the_passive_constants_are_the_passive_cards():
    assert PASSIVE_BASELINE_MS == passive.BASELINE_MS
    assert PASSIVE_MIN_BASELINE_MS == passive.MIN_BASELINE_MS
    assert features.PASSIVE_STEADY_FRACTION == passive.STEADY_FRACTION
    assert features.PASSIVE_SMOOTH_MS == passive.SMOOTH_MS
    assert features.PASSIVE_FIT_START == passive.FIT_START_FRACTION
    assert features.PASSIVE_MIN_FIT_SAMPLES == passive.MIN_FIT_SAMPLES


# --------------------------------------------------------------------- names and sets


def test_the_table_has_a_unit_and_a_description_per_feature():
    assert tuple(features.FEATURES) == features.NAMES == (*features.GONCALVES, *features.EPHYS)
    for name, (unit, description) in features.FEATURES.items():
        assert unit and description, name


def test_feature_sets_resolve_to_names_of_the_table():
    assert resolve_features("goncalves") == list(features.GONCALVES)
    for name, members in FEATURE_SETS.items():
        assert len(set(members)) == len(members)
        features.check_names(members)
        assert features.check_names(name) == features.check_names(members)
    assert resolve_features(["rest_mean", "ap_peak"]) == ["rest_mean", "ap_peak"]
    with pytest.raises(ValueError, match="unknown feature set 'ephy'.*goncalves"):
        resolve_features("ephy")


def test_the_config_takes_a_set_name_or_a_list_and_keeps_its_default():
    schema = CONFIG_SCHEMA["properties"]["features"]
    assert schema["items"]["enum"] == list(features.NAMES)
    assert [option.get("enum") for option in schema["anyOf"]] == [None, list(FEATURE_SETS)]
    assert schema["default"] == list(FEATURE_SETS["goncalves"])
    assert validate_config({"features": "ephys"}, CONFIG_SCHEMA)["features"] == list(FEATURE_SETS["ephys"])
    assert validate_config({"features": ["ap_peak"]}, CONFIG_SCHEMA)["features"] == ["ap_peak"]
    for bad in ("nonsense", ["ap_peak", "ap_peak"], ["ap_width"], []):
        with pytest.raises(ConfigError, match="config key features"):
            validate_config({"features": bad}, CONFIG_SCHEMA)
    assert load_config(ROOT / "config/config.yaml", CONFIG_SCHEMA)["features"] == list(FEATURE_SETS["goncalves"])


def test_compute_features_equals_all_features_columns(lf_traces):
    v, windows = lf_traces["hyper"]
    every = features.all_features(v, LF_DT, windows)
    assert every.shape == (v.shape[0], len(features.NAMES))
    for names in (["sag_ratio", "rest_mean"], ["first_isi"], list(features.GONCALVES), "ephys"):
        np.testing.assert_array_equal(features.compute_features(v, LF_DT, windows, names),
                                      every[:, features.check_names(names)])


# ----------------------------------------------------------- the ten, unchanged

TEN_REFERENCE = {  # computed by the ten features' code before the EPHYS features were added
    ("171116sh_0019.abf", 0): [0.0, -62.71310351030495, 0.28320279356642536, -72.69997711181641,
                               2.545178989767569, 0.9813064072152343, 6.48940750170525, 1000.0,
                               0.0, 1000.0],
    ("171116sh_0019.abf", 2): [3.0, -61.35996012286666, 0.6924759990852759, -47.256036376953126,
                               97.41670954818575, 6.581405011031217, 55.53900389353227, 158.25,
                               0.8451816745655608, 69.9],
    ("171116sh_0019.abf", 3): [6.0, -62.555476114950416, 0.14661751621670532, -40.23422546386719,
                               145.50416208429328, 5.594496396347867, 34.856548910761255,
                               78.85999999999999, 0.3765842108205969, 29.3],
    ("18711001.abf", 10): [3.0, -69.20946561373196, 0.044161454836670014, -42.80741729736328,
                           119.33697668285583, 4.6919836356386755, 32.11246994019535,
                           182.72500000000002, 0.04391845669722081, 44.150000000000006],
    ("18711001.abf", 20): [5.0, -68.18354027902978, 0.06590565894142363, -33.32682800292969,
                           161.84133578813635, 3.8990116905044623, 19.268241691495962,
                           88.1375, 0.3864777589491574, 17.2],
}


def test_the_ten_default_features_are_unchanged():
    for (path, index), reference in TEN_REFERENCE.items():
        sweep = read_sweeps(RECORDINGS / path, [index])[0]
        windows = windows_of(sweep.protocol)
        for x in (features.compute_features(sweep.voltage[None], sweep.dt, windows, "goncalves"),
                  features.all_features(sweep.voltage[None], sweep.dt, windows)[:, :10]):
            np.testing.assert_allclose(x[0], reference, rtol=1e-12, atol=0,
                                       err_msg=f"{path} sweep {index}")
