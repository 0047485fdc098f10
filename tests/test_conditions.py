"""Startup warnings of a recording (mfnpe.observation.conditions): spontaneous firing in
the rest window and baseline drift across the chosen sweeps, on the shared ABF files and
on synthetic NWB files with a known spike and a known drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mfnpe.recordings.ephys import write_nwb
from mfnpe.observation.conditions import DRIFT_LIMIT_MV, recording_warnings, rest_windows
from mfnpe.recordings.stimulus import resolve

DATA = Path(__file__).parent / "data" / "recordings"
FEATURES = ["spike_count", "rest_mean", "rest_std", "stim_mean"]


def _config(path, sweeps, window_ms=None, features=FEATURES) -> dict:
    config = {"stimulus": {"recording": str(path), "sweeps": list(sweeps),
                           "window_ms": window_ms}, "features": list(features)}
    config["stimulus"]["protocols"] = resolve(config)
    return config


def test_the_step_and_a_steady_recording_give_no_warning():
    assert recording_warnings({"stimulus": {"duration": 120.0}, "features": FEATURES}) == []
    # config/recording_171116sh_0019.yaml's sweeps: rest means −61.4, −62.6, −62.6 mV
    assert recording_warnings(_config(DATA / "171116sh_0019.abf", [2, 3, 4], [0.0, 700.0])) == []


@pytest.mark.parametrize("name, spread", [("18711001", 3.70), ("18713001", 1.38)])
def test_shared_recordings_have_no_spontaneous_firing_and_little_drift(name, spread):
    """All 30 sweeps: no spike before the first epoch (23.4 ms), rest means within
    3.7 mV (18711001, −69.7 to −66.0 mV) and 1.4 mV (18713001): no warning."""
    rests = rest_windows(DATA / f"{name}.abf", range(30))
    means = [r.mean_mV for r in rests]
    print(name, "rest means [mV]", np.round(means, 2))
    assert all(r.end_ms == pytest.approx(23.4) and not r.spikes_ms for r in rests)
    assert max(means) - min(means) == pytest.approx(spread, abs=0.01)
    assert recording_warnings(_config(DATA / f"{name}.abf", range(30))) == []


def test_171116sh_0019_drifts_just_over_the_limit_across_all_its_sweeps():
    """Its rest (0–146.85 ms) falls from −61.4 mV (sweep 2) to −66.6 mV (sweep 15) over
    the 22 sweeps: 5.2 mV, just over the 5 mV limit; no spontaneous spike."""
    (message,) = recording_warnings(_config(DATA / "171116sh_0019.abf", range(22)))
    print(message)
    assert "171116sh_0019.abf: the baseline drifts" in message
    assert "from -66.6 mV (sweep 15) to -61.4 mV (sweep 2), a spread of 5.2 mV > 5 mV" in message
    assert "drop rest_mean and rest_std from features" in message


RATE = 20_000.0  # Hz
T = np.arange(6000) / RATE * 1000.0  # 300 ms


def _sweep(baseline, spike_at=None):
    """A quiet cell at ``baseline`` mV (0.2 mV noise), a 50 pA step on [100, 250) ms that
    moves it by +5 mV, and optionally a 1 ms spike peaking at +30 mV at ``spike_at`` ms."""
    rng = np.random.default_rng(int(abs(baseline) * 10))
    command = np.where((T >= 100.0) & (T < 250.0), 50.0, 0.0)
    voltage = baseline + 0.1 * command + rng.normal(0.0, 0.2, T.shape)
    if spike_at is not None:
        voltage += (30.0 - baseline) * np.exp(-0.5 * ((T - spike_at) / 0.2) ** 2)
    return {"voltage": voltage, "command": command}


@pytest.fixture
def synthetic(tmp_path) -> Path:
    """Sweep 0 quiet at −65 mV; sweep 1 at −64 mV with a spike at 40 ms (rest window) and
    one at 150 ms (the step, not flagged); sweep 2 quiet at −53 mV (12 mV of drift)."""
    sweeps = [_sweep(-65.0), _sweep(-64.0, 40.0), _sweep(-53.0)]
    spiking = sweeps[1]["voltage"]
    spiking += (30.0 + 59.0) * np.exp(-0.5 * ((T - 150.0) / 0.2) ** 2)
    return write_nwb(tmp_path / "cell.nwb", sweeps, rate=RATE)


def test_a_spike_in_the_rest_window_and_a_drift_are_named(synthetic):
    spontaneous, drift = recording_warnings(_config(synthetic, [0, 1, 2]))
    print(spontaneous, drift, sep="\n")
    assert spontaneous.startswith(f"recording {synthetic}: spontaneous firing before the first "
                                  "epoch in 1 of 3 chosen sweeps (sweep 1: 1 spike at 40.0 ms "
                                  "in [0, 100) ms;")
    assert "stimulus/window_ms starting after 40.0 ms" in spontaneous
    assert "drop rest_mean and rest_std from features" in spontaneous
    assert "from -65.0 mV (sweep 0) to -53.0 mV (sweep 2), a spread of 1" in drift
    assert "> 5 mV" in drift and "stimulus/sweeps" in drift
    rests = rest_windows(synthetic, [0, 1, 2])
    assert [len(r.spikes_ms) for r in rests] == [0, 1, 0]
    assert rests[1].spikes_ms[0] == pytest.approx(40.0, abs=0.05)
    assert rests[2].mean_mV - rests[0].mean_mV == pytest.approx(12.0, abs=0.05)


def test_the_documented_choices_silence_the_warnings(synthetic):
    """A rest window from 50 ms (window_ms) drops the spike; sweeps at one baseline drop
    the drift; without rest features the message says so instead of naming them."""
    assert recording_warnings(_config(synthetic, [0, 1], [50.0, 300.0])) == []
    (spontaneous,) = recording_warnings(_config(synthetic, [0, 1]))
    assert "spontaneous firing" in spontaneous
    (quiet,) = recording_warnings(_config(synthetic, [0, 1, 2], [50.0, 300.0],
                                          ["spike_count", "stim_mean"]))
    assert "the baseline drifts" in quiet and "the features hold no rest feature" in quiet
    assert "rest window [50, 100) ms" not in quiet
    rests = rest_windows(synthetic, [1], [50.0, 300.0])
    assert (rests[0].start_ms, rests[0].end_ms, rests[0].spikes_ms) == (50.0, 100.0, ())


def test_drift_limit_is_strict():
    from mfnpe.observation.conditions import RestWindow, drift_warning

    rests = [RestWindow(0, 0.0, 10.0, -65.0, ()), RestWindow(1, 0.0, 10.0, -60.0, ())]
    assert DRIFT_LIMIT_MV == 5.0 and drift_warning("f.abf", rests, FEATURES) is None
    assert drift_warning("f.abf", rests, FEATURES, limit_mV=4.9) is not None
