"""The passive card (mfnpe.observation.passive): known answers from analytic membranes
written to NWB files, the exclusions and errors, the command line, and the three real
recordings against window averages computed here and the voltages their README gives."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mfnpe.recordings.ephys import write_nwb
from mfnpe.observation import passive
from mfnpe.observation.passive import (NoHyperpolarisingEpochError, NoPassivePulseError,
                                       passive_card)

RECORDINGS = Path(__file__).parent / "data" / "recordings"
ROOT = Path(__file__).resolve().parents[1]

RATE = 20_000.0  # Hz
DT = 1000.0 / RATE  # ms
SWEEP_MS = 500.0
ONSET, PULSE = 100.0, 300.0  # ms
I_PULSE = -100.0  # pA
REST = -70.0  # mV
C_PF, G_NS = 100.0, 5.0  # 100 pF, 5 nS: R = 200 MΩ, tau = C/g = 20 ms, area 10 000 µm²
R_MOHM, TAU_MS, AREA_UM2 = 1000.0 / G_NS, C_PF / G_NS, 100.0 * C_PF
NOISE_MV = 0.1
TIME = np.arange(int(round(SWEEP_MS / DT))) * DT


def rc_step(t):
    """Deflection [mV] of the RC membrane at t [ms] after the onset of I_PULSE:
    I R (1 − exp(−t/τ)), 0 before."""
    t = np.asarray(t, dtype=np.float64)
    return np.where(t >= 0, I_PULSE * R_MOHM / 1000.0 * -np.expm1(-np.clip(t, 0, None) / TAU_MS),
                    0.0)


def sag_step(t, g_slow, tau_slow):
    """Deflection [mV] after the onset of I_PULSE of a membrane with a slow h-like
    conductance, the linear system C du/dt = −g u − g_slow w + I, τ_slow dw/dt = u − w
    (pF, nS, ms, pA, mV), from rest (u = w = 0): x(t) = (exp(At) − 1) A⁻¹ b, exactly,
    through A's eigenvectors."""
    a = np.array([[-G_NS / C_PF, -g_slow / C_PF], [1.0 / tau_slow, -1.0 / tau_slow]])
    b = np.array([I_PULSE / C_PF, 0.0])
    lam, vec = np.linalg.eig(a)
    coef = np.linalg.solve(vec, np.linalg.solve(a, b))  # A⁻¹ b in the eigenbasis
    t = np.clip(np.asarray(t, dtype=np.float64), 0, None)
    u = (vec[0][:, None] * coef[:, None] * np.expm1(lam[:, None] * t[None, :])).sum(axis=0)
    return np.where(np.asarray(t) > 0, u.real, 0.0)


def pulse_trace(step, seed, onset=ONSET, duration=PULSE):
    """(voltage mV, command pA) of a sweep with one pulse: the step response switched on
    at ``onset`` and off after ``duration`` (superposition), plus white noise."""
    voltage = REST + step(TIME - onset) - step(TIME - onset - duration)
    voltage = voltage + np.random.default_rng(seed).normal(0.0, NOISE_MV, TIME.size)
    command = np.where((TIME >= onset - 1e-9) & (TIME < onset + duration - 1e-9), I_PULSE, 0.0)
    return voltage, command


def write(path, sweeps):
    return write_nwb(path, [{"voltage": v, "command": c} for v, c in sweeps], rate=RATE,
                     description="passive test cell")


@pytest.fixture(scope="module")
def rc_file(tmp_path_factory):
    """Three sweeps of the RC membrane, each with its own noise."""
    path = tmp_path_factory.mktemp("passive") / "rc.nwb"
    return write(path, [pulse_trace(rc_step, seed) for seed in range(3)])


# ---------------------------------------------------------------------------- known answers

def test_rc_membrane_gives_its_resistance_time_constant_and_capacitance(rc_file):
    card = passive_card(rc_file)
    assert len(card.pulses) == 3 and not card.excluded and card.currents_pA == (I_PULSE,)
    for pulse in card.pulses:
        assert pulse.start_ms == pytest.approx(ONSET) and pulse.duration_ms == pytest.approx(PULSE)
        assert pulse.rest_mV == pytest.approx(REST, abs=0.05)
        assert pulse.steady_state_mV == pytest.approx(REST + I_PULSE * R_MOHM / 1000, abs=0.05)
        assert pulse.input_resistance_MOhm == pytest.approx(R_MOHM, rel=0.01)
        assert pulse.tau_m_ms == pytest.approx(TAU_MS, rel=0.03)
        assert pulse.capacitance_pF == pytest.approx(C_PF, rel=0.04)
        assert pulse.area_um2 == pytest.approx(100.0 * pulse.capacitance_pF)
        assert 0.0 <= pulse.sag_ratio < 0.01  # no sag: only the noise's bias on the peak
        assert 0.0 < pulse.fit_start_ms < 0.2 * TAU_MS < 3 * TAU_MS < pulse.fit_stop_ms
        assert pulse.fit_rmse_mV == pytest.approx(NOISE_MV, rel=0.2)  # the residual is the noise
    assert card.input_resistance_MOhm.median == pytest.approx(R_MOHM, rel=0.01)
    assert card.tau_m_ms.median == pytest.approx(TAU_MS, rel=0.02)
    assert card.capacitance_pF.median == pytest.approx(C_PF, rel=0.03)
    assert card.area_um2.median == pytest.approx(AREA_UM2, rel=0.03)
    assert card.rest_mV.minimum <= card.rest_mV.q25 <= card.rest_mV.median \
        <= card.rest_mV.q75 <= card.rest_mV.maximum


def test_the_fit_recovers_a_noiseless_exponential_exactly():
    t = np.arange(2000) * DT
    tau, a, b, rmse = passive.fit_exponential(t, -80.0 + 12.0 * np.exp(-t / 17.0), DT)
    assert (tau, a, b) == pytest.approx((17.0, -80.0, 12.0), rel=1e-6) and rmse < 1e-6


@pytest.mark.parametrize("g_slow, tau_slow", [(1.25, 60.0), (2.5, 80.0)])
def test_sag_membrane_gives_its_sag_and_steady_state_resistance(tmp_path, g_slow, tau_slow):
    """The slow conductance (opening on hyperpolarisation) makes the deflection peak and
    relax to I / (g + g_slow). R_in and the sag ratio are exact; the single exponential,
    fitted up to the peak, is shortened by the slow conductance, and C_m = τ_m / R_in
    (R_in the steady state's) overestimates C, C_m·(1 − sag) (τ_m over the peak's
    resistance) does not (docs/recordings.md, "Passive card")."""
    step = lambda t: sag_step(t, g_slow, tau_slow)  # noqa: E731
    path = write(tmp_path / "sag.nwb", [pulse_trace(step, seed) for seed in range(2)])
    card = passive_card(path)
    deflection = step(np.arange(0.0, PULSE, DT))
    r_steady = 1000.0 / (G_NS + g_slow)
    sag_true = (deflection.min() - deflection[-1]) / deflection.min()
    assert deflection[-1] == pytest.approx(I_PULSE * r_steady / 1000, rel=0.005)  # settled
    assert sag_true > 0.05
    for pulse in card.pulses:
        assert pulse.input_resistance_MOhm == pytest.approx(r_steady, rel=0.02)
        assert pulse.sag_ratio == pytest.approx(sag_true, abs=0.01)
        assert 0.7 * TAU_MS < pulse.tau_m_ms < TAU_MS
        assert pulse.capacitance_pF > C_PF
        assert pulse.capacitance_pF * (1 - pulse.sag_ratio) == pytest.approx(C_PF, rel=0.1)
        assert pulse.fit_stop_ms < 0.5 * PULSE  # the fit ends at the peak, before the sag


# ---------------------------------------------------------------------------- exclusions, errors

def test_spiking_and_unprepared_pulses_are_excluded_with_the_reason(tmp_path):
    clean = pulse_trace(rc_step, 0)
    spiking = pulse_trace(rc_step, 1)
    spiking[0][(TIME >= 200.0) & (TIME < 200.5)] = 20.0  # a spike during the pulse
    spiked_before = pulse_trace(rc_step, 2)
    spiked_before[0][(TIME >= 40.0) & (TIME < 40.5)] = 20.0  # a spike on a step before it
    spiked_before[1][(TIME >= 20.0) & (TIME < 60.0)] = 200.0
    entered_from_step = pulse_trace(rc_step, 3)  # a depolarising step right before it
    entered_from_step[1][(TIME >= 50.0) & (TIME < ONSET)] = 50.0
    path = write(tmp_path / "mixed.nwb", [clean, spiking, spiked_before, entered_from_step])
    card = passive_card(path)
    assert [p.sweep for p in card.pulses] == [0]
    reasons = {e.sweep: e.reason for e in card.excluded}
    assert sorted(reasons) == [1, 2, 3]
    assert "spike(s) during the pulse" in reasons[1]
    assert "spike(s) before the pulse" in reasons[2]
    assert "only 0 ms at the holding current" in reasons[3]
    assert all(e.start_ms == pytest.approx(ONSET) and e.current_pA == I_PULSE
               for e in card.excluded)
    # the pulses kept are measured as in a file of them alone
    assert card.pulses[0].input_resistance_MOhm == pytest.approx(R_MOHM, rel=0.01)


def test_a_file_without_a_hyperpolarising_epoch_is_refused_by_name(tmp_path):
    voltage = np.full(TIME.size, REST)
    command = np.where((TIME >= ONSET) & (TIME < ONSET + PULSE), 50.0, 0.0)
    path = write(tmp_path / "depolarising.nwb", [(voltage, command)])
    with pytest.raises(NoHyperpolarisingEpochError) as err:
        passive_card(path)
    assert str(err.value).startswith(str(path)) and "no hyperpolarising epoch" in str(err.value)


def test_a_file_whose_pulses_are_all_excluded_is_refused_with_the_reasons(tmp_path):
    voltage, command = pulse_trace(rc_step, 0)
    voltage[(TIME >= 200.0) & (TIME < 200.5)] = 20.0
    path = write(tmp_path / "spiking.nwb", [(voltage, command)])
    with pytest.raises(NoPassivePulseError) as err:
        passive_card(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "spike(s) during the pulse" in message


def test_a_pulse_after_a_baseline_that_is_not_at_rest_is_excluded(tmp_path):
    """A cell that fires before the pulse without crossing the spike threshold there (the
    sweep opens on a spike's decay): its baseline's SD is far above a resting cell's, the
    pulse is excluded with the reason, and the clean sweep beside it is kept."""
    clean = pulse_trace(rc_step, 0)
    decaying = pulse_trace(rc_step, 1)
    before = TIME < ONSET
    decaying[0][before] += 30.0 * np.exp(-TIME[before] / 10.0)  # from -40 mV back to rest
    assert decaying[0][before].max() < passive.SPIKE_THRESHOLD_MV  # no crossing to count
    card = passive_card(write(tmp_path / "decay.nwb", [clean, decaying]))
    assert [p.sweep for p in card.pulses] == [0]
    (excluded,) = card.excluded
    assert excluded.sweep == 1 and "the baseline is not at rest" in excluded.reason
    # a resting baseline's noise is far below the limit
    assert pulse_trace(rc_step, 2)[0][before].std() < passive.MAX_BASELINE_SD_MV / 10


def test_a_pulse_within_the_noise_is_excluded():
    flat = REST + np.random.default_rng(0).normal(0.0, NOISE_MV, TIME.size)
    with pytest.raises(passive.UnmeasurablePulse, match="no hyperpolarisation above the noise"):
        passive.measure_pulse(TIME, flat, DT, ONSET, PULSE, I_PULSE, ONSET)


# ---------------------------------------------------------------------------- command line

def test_the_command_prints_the_card_and_its_json(rc_file, capsys):
    assert passive.main([str(rc_file)]) == 0
    table = capsys.readouterr().out
    card = passive_card(rc_file)
    assert table.startswith(f"{rc_file}: 3 pulse(s) of -100 pA in 3 sweep(s); 0 excluded")
    row = next(line for line in table.splitlines() if "input resistance R_in" in line)
    assert float(row.split()[5]) == pytest.approx(card.input_resistance_MOhm.median, rel=1e-3)
    assert "area prior" in table
    assert passive.main(["--json", str(rc_file)]) == 0
    (loaded,) = json.loads(capsys.readouterr().out)
    assert loaded == json.loads(json.dumps(card.to_dict()))
    assert loaded["capacitance_pF"]["median"] == pytest.approx(card.capacitance_pF.median)
    assert len(loaded["pulses"]) == 3


def test_the_command_names_a_file_it_cannot_use_and_fails(tmp_path, rc_file, capsys):
    voltage = np.full(TIME.size, REST)
    path = write(tmp_path / "flat.nwb", [(voltage, np.zeros(TIME.size))])
    assert passive.main([str(rc_file), str(path)]) == 1
    out = capsys.readouterr()
    assert str(rc_file) in out.out and f"error: {path}" in out.err


def test_the_module_runs_as_a_command(rc_file):
    run = subprocess.run([sys.executable, "-m", "mfnpe.observation.passive", "--json",
                          str(rc_file)], capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    (card,) = json.loads(run.stdout)
    assert card["input_resistance_MOhm"]["median"] == pytest.approx(R_MOHM, rel=0.01)


# ---------------------------------------------------------------------------- real recordings

def window_estimates(path, sweep, onset, end, baseline_ms=20.0, steady_ms=50.0):
    """This test's own estimate of one pulse: rest the mean over ``baseline_ms`` before the
    onset, the steady state the mean over the pulse's last ``steady_ms``, the peak the
    minimum of 5 ms block means; (rest, steady state, R_in MΩ, sag ratio)."""
    from mfnpe.recordings.ephys import read_sweeps

    (s,) = read_sweeps(path, [sweep])
    rest = s.voltage[(s.time >= onset - baseline_ms) & (s.time < onset)].mean()
    steady = s.voltage[(s.time >= end - steady_ms) & (s.time < end)].mean()
    inside = s.voltage[(s.time >= onset) & (s.time < end)]
    block = int(round(5.0 / s.dt))
    peak = inside[: inside.size // block * block].reshape(-1, block).mean(axis=1).min()
    return rest, steady, (steady - rest) / -100.0 * 1000.0, (steady - peak) / (rest - peak)


# README: "18711001: rest near −66 mV, −100 pA takes it to about −87 mV";
# "18713001: rest near −63 mV, −100 pA to about −78 mV" (sweep 0)
README_VOLTAGES = {"18711001.abf": (-66.0, -87.0), "18713001.abf": (-63.0, -78.0)}


@pytest.fixture(scope="module")
def real_cards():
    return {name: passive_card(RECORDINGS / name)
            for name in ["18711001.abf", "18713001.abf", "171116sh_0019.abf"]}


@pytest.mark.parametrize("name", sorted(README_VOLTAGES))
def test_two_cells_cards_match_window_averages_and_the_readme(real_cards, name):
    card = real_cards[name]
    assert len(card.pulses) == 30 and not card.excluded and card.currents_pA == (-100.0,)
    assert [p.sweep for p in card.pulses] == list(range(30))
    for pulse in card.pulses:
        assert (pulse.start_ms, pulse.duration_ms) == pytest.approx((23.4, 300.0))
        rest, steady, r_in, sag = window_estimates(RECORDINGS / name, pulse.sweep, 23.4, 323.4)
        assert pulse.rest_mV == pytest.approx(rest, abs=0.3)
        assert pulse.input_resistance_MOhm == pytest.approx(r_in, rel=0.10)
        assert pulse.sag_ratio == pytest.approx(sag, abs=0.03)
        # physically plausible for a neuron recorded whole-cell
        assert 50 < pulse.input_resistance_MOhm < 1000 and 5 < pulse.tau_m_ms < 100
        assert 20 < pulse.capacitance_pF < 500 and 0 <= pulse.sag_ratio < 0.3
        assert pulse.area_um2 == pytest.approx(100.0 * pulse.capacitance_pF)
    rest_readme, steady_readme = README_VOLTAGES[name]
    first = card.pulses[0]
    assert first.rest_mV == pytest.approx(rest_readme, abs=2.0)
    assert first.steady_state_mV == pytest.approx(steady_readme, abs=2.0)
    # sweeps agree: R_in within a quarter of its median (18713001's drifts up from 128 MΩ
    # over its first 14 sweeps), and C_m = τ_m / R_in, which does not depend on the
    # membrane's conductance, within 35 % from the smallest to the largest
    assert card.input_resistance_MOhm.relative_iqr < 0.25
    assert card.capacitance_pF.relative_iqr < 0.10
    assert card.capacitance_pF.maximum < 1.35 * card.capacitance_pF.minimum
    assert card.rest_mV.maximum - card.rest_mV.minimum < 4.0


def test_the_dual_step_file_uses_the_pulses_no_spike_precedes(real_cards):
    card = real_cards["171116sh_0019.abf"]
    # sweep 0: −100 pA on [146.85, 646.85) and on [1146.85, 2146.85) (the step is −100 pA
    # too); sweep 1: the step is 0 pA; from sweep 2 on, the first step fires before the pulse
    assert [p.sweep for p in card.pulses] == [0, 0, 1]
    assert [(p.start_ms, p.duration_ms) for p in card.pulses] == [
        pytest.approx((146.85, 500.0)), pytest.approx((1146.85, 1000.0)),
        pytest.approx((1146.85, 500.0))]
    assert [e.sweep for e in card.excluded] == list(range(2, 22))
    assert all("spike(s) before the pulse" in e.reason for e in card.excluded)
    for pulse in card.pulses:
        end = pulse.start_ms + pulse.duration_ms
        rest, steady, r_in, sag = window_estimates(RECORDINGS / "171116sh_0019.abf",
                                                   pulse.sweep, pulse.start_ms, end)
        assert -66.0 < pulse.rest_mV < -61.0  # README: rests near −62 to −66 mV
        assert pulse.input_resistance_MOhm == pytest.approx(r_in, rel=0.10)
        assert pulse.sag_ratio == pytest.approx(sag, abs=0.03) and pulse.sag_ratio > 0.15
        assert 5 < pulse.tau_m_ms < 100 and 20 < pulse.capacitance_pF < 1000
    assert card.input_resistance_MOhm.maximum < 1.1 * card.input_resistance_MOhm.minimum
    assert card.tau_m_ms.maximum < 1.1 * card.tau_m_ms.minimum


# ---- the area prior from a recording: prior/area/from_recording ----

def test_the_area_range_covers_every_pulse_with_its_sag_corrected_lower_bound():
    card = passive_card(RECORDINGS / "18711001.abf")
    low, high = passive.area_range(card, 2.0)
    corrected = [p.area_um2 * (1 - p.sag_ratio) for p in card.pulses]
    assert low == pytest.approx(min(corrected) / 2) and high == pytest.approx(
        max(p.area_um2 for p in card.pulses) * 2)
    assert low < card.area_um2.minimum / 2 < card.area_um2.median < high
    assert passive.area_range(card, 1.0) == (min(corrected), card.area_um2.maximum)
    with pytest.raises(ValueError, match="at least 1"):
        passive.area_range(card, 0.5)


@pytest.mark.workflow
def test_a_config_takes_its_area_prior_from_the_recording(tmp_path):
    """``snakemake -n`` on a recording config with ``area: {from_recording: 2}`` prints the
    range the passive card gives and plans the run; a step stimulus is refused naming the
    file and the key; nothing is written."""
    from workflow_helpers import snakemake

    low, high = passive.area_prior_from_recording(RECORDINGS / "18711001.abf", 2.0)
    overlay = tmp_path / "cell.yaml"
    overlay.write_text(
        f"stimulus: {{recording: {RECORDINGS / '18711001.abf'}, sweeps: [10, 29],"
        " window_ms: [0.0, 1400.0]}\n"
        "model: {name: pospischil_rs}\n"
        "prior: {gNa: [20.0, 80.0], area: {from_recording: 2}}\n"
        "observations: {dir: null, examples: {}}\n")
    run = snakemake(tmp_path, "-n", configfile=[ROOT / "config/config.yaml", overlay])
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert (f"prior: area log-uniform on [{low:.4g}, {high:.4g}] µm², from the passive card "
            f"of {RECORDINGS / '18711001.abf'}") in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake", "cell.yaml"]

    overlay.write_text("prior: {gNa: [20.0, 80.0], area: {from_recording: 2}}\n")
    run = snakemake(tmp_path, "-n", configfile=[ROOT / "config/config.yaml", overlay])
    assert run.returncode != 0
    assert (f"{overlay}: config key prior/area/from_recording: the area prior comes from a "
            "recording's passive card, but stimulus/recording names no recording") in \
        run.stdout + run.stderr
