"""Piecewise-constant protocols: built from levels and waveforms, refused when not
piecewise constant, turned into per-step currents in pA and µA/cm²."""

import numpy as np
import pytest

from mfnpe.stimulus.step import Stimulus
from mfnpe.recordings.commands import common_protocol, protocol_from_waveform
from mfnpe.recordings.errors import (NotPiecewiseConstantError, ProtocolMismatchError,
                                     RecordingError)
from mfnpe.stimulus.protocols import (Epoch, Protocol, crop, current_density, current_pA,
                                      feature_windows, from_settings, make_protocol, to_settings)
from mfnpe.stimulus.windows import Windows
from mfnpe.simulation.experiment import SimulatorSettings

# holding -20 pA; 100 pA on [10, 30) ms, then -50 pA on [30, 45) ms, 200 pA on [60, 70) ms
PROTOCOL = Protocol(80.0, -20.0, (Epoch(10.0, 20.0, 100.0), Epoch(30.0, 15.0, -50.0),
                                  Epoch(60.0, 10.0, 200.0)))


def test_current_holds_each_epoch_on_its_steps():
    dt = 0.05
    current = current_pA(PROTOCOL, dt)
    t = np.arange(current.size) * dt
    assert current.shape == (1600,)
    expected = np.full(t.size, -20.0)
    expected[(t >= 10) & (t < 30)] = 100.0
    expected[(t >= 30) & (t < 45)] = -50.0
    expected[(t >= 60) & (t < 70)] = 200.0
    np.testing.assert_array_equal(current, expected)
    assert current[199] == -20.0 and current[200] == 100.0  # onset at step 10 / 0.05
    assert current[1399] == 200.0 and current[1400] == -20.0


def test_a_single_step_is_the_simulators_step_mask():
    stimulus = Stimulus(120.0, 10.0, 110.0)
    protocol = Protocol(120.0, 0.0, (Epoch(10.0, 100.0, 7.0),))
    for dt in (0.01, 0.025, 0.1):
        np.testing.assert_array_equal(current_pA(protocol, dt), 7.0 * stimulus.step_mask(dt))


def test_current_density_is_100_over_area_per_pA_for_every_area():
    areas = np.array([100.0, 250.0, 1000.0])
    dt = 0.1
    density = current_density(PROTOCOL, dt, areas)
    assert density.shape == (3, 800)
    # 1 pA = 1e-12 A on A µm² = A·1e-8 cm²: 1e-4/A A/cm² = 100/A µA/cm²
    np.testing.assert_allclose(density, current_pA(PROTOCOL, dt)[None] * 100.0 / areas[:, None])
    assert density[0, 150] == pytest.approx(100.0)  # 100 pA on 100 µm² = 100 µA/cm²
    assert density[2, 150] == pytest.approx(10.0)
    assert current_density(PROTOCOL, dt, 100.0).shape == (1, 800)
    with pytest.raises(ValueError, match="positive"):
        current_density(PROTOCOL, dt, [100.0, 0.0])


def test_a_waveform_gives_back_the_protocol_that_made_it():
    for dt in (0.1, 0.05, 0.02, 0.01):
        protocol = protocol_from_waveform(current_pA(PROTOCOL, dt), dt)
        assert protocol == PROTOCOL


def test_levels_merge_and_holding_level_epochs_drop():
    protocol = make_protocol(50.0, 5.0, [(0.0, 10.0, 5.0), (10.0, 5.0, 30.0), (15.0, 5.0, 30.0),
                                         (20.0, 0.0, 99.0), (20.0, 10.0, 5.0)])
    assert protocol == Protocol(50.0, 5.0, (Epoch(10.0, 10.0, 30.0),))
    assert protocol.level_at(12.0) == 30.0 and protocol.level_at(25.0) == 5.0


def test_overlapping_or_outside_epochs_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        Protocol(50.0, 0.0, (Epoch(10.0, 10.0, 1.0), Epoch(15.0, 10.0, 2.0)))
    with pytest.raises(ValueError, match="after the sweep"):
        Protocol(50.0, 0.0, (Epoch(45.0, 10.0, 1.0),))


@pytest.mark.parametrize("shape", ["ramp", "sine", "fast_sine"])
def test_a_command_that_is_not_piecewise_constant_is_refused(shape):
    dt = 0.05
    t = np.arange(4000) * dt
    waveform = {"ramp": np.where(t > 50, (t - 50) * 2.0, 0.0),  # 0.1 pA per sample
                "sine": 100.0 * np.sin(2 * np.pi * t / 100.0),
                "fast_sine": 100.0 * np.sin(2 * np.pi * t / 2.0)}[shape]
    with pytest.raises(NotPiecewiseConstantError) as error:
        protocol_from_waveform(waveform, dt, source="cell.nwb: sweep 3")
    assert str(error.value).startswith("cell.nwb: sweep 3: the command is not piecewise constant")
    assert isinstance(error.value, RecordingError)


def test_common_protocol_names_the_sweep_that_differs():
    other = Protocol(80.0, -20.0, PROTOCOL.epochs[:2])
    assert common_protocol([PROTOCOL, PROTOCOL], "a.abf") is PROTOCOL
    with pytest.raises(ProtocolMismatchError) as error:
        common_protocol([PROTOCOL, PROTOCOL, other], "a.abf", labels=[4, 5, 6])
    message = str(error.value)
    assert message.startswith("a.abf: the chosen sweeps have different protocols")
    assert "sweep 4" in message and "sweep 6" in message and "200 pA" in message


# ---- a recording's protocols as the simulations' stimulus (mfnpe.simulation.shard) ----

SHORT = Protocol(80.0, 0.0, (Epoch(20.0, 50.0, 20.0),))
"""A short sweep: 20 pA on [20, 70) ms of 80 ms."""


def _sweep_experiment(simulator, protocols, area=200.0, features=("spike_count", "rest_mean",
                                                                     "stim_mean", "isi_mean")):
    from mfnpe.simulation.experiment import (ExperimentSimulation, FixedModel,
                                             SimulatorSettings, Sweep)
    return ExperimentSimulation(SimulatorSettings.from_dict(simulator),
                                FixedModel.from_dict({"area": area}),
                                tuple(Sweep(s, p) for s, p in protocols), tuple(features), 0.1)


@pytest.mark.parametrize("simulator", [{"name": "binomial", "dt": 0.01},
                                       {"name": "deterministic", "dt": 0.025}])
def test_a_shard_runs_every_sweep_at_each_theta(simulator):
    from mfnpe.hh.model import constants_table
    from mfnpe.simulation import features, simulators
    from mfnpe.simulation.shard import simulate_shard, sweep_seeds_of
    stronger = Protocol(80.0, -5.0, (Epoch(10.0, 10.0, 0.0), Epoch(20.0, 50.0, 40.0)))
    theta = np.array([[120.0, 36.0], [100.0, 40.0], [150.0, 30.0]])
    experiment = _sweep_experiment(simulator, [(3, SHORT), (7, stronger)])
    shard = simulate_shard(theta, ["gNa", "gK"], experiment, np.arange(3, dtype=np.uint32))
    names = ["spike_count", "rest_mean", "stim_mean", "isi_mean"]
    assert shard.feature_names == [f"{n}@3" for n in names] + [f"{n}@7" for n in names]
    assert shard.x.shape == (3, 8) and shard.valid.all()
    assert shard.traces.shape == (3, 2 * 800)  # both sweeps' traces, joined in time
    # each sweep's block is that sweep simulated alone (the second under its own seeds)
    seeds = np.arange(3, dtype=np.uint32) + 11
    shard = simulate_shard(theta, ["gNa", "gK"], experiment, seeds)
    run = simulators.batch_function(experiment.simulator)
    constants = constants_table({"area": 200.0}, theta, ["gNa", "gK"])
    for j, protocol in enumerate([SHORT, stronger]):
        v = run(constants, protocol, seeds=sweep_seeds_of(seeds, j)).v
        windows = feature_windows(protocol)
        expected = features.compute_features(v, simulator["dt"], windows, names)
        np.testing.assert_allclose(shard.x[:, 4 * j: 4 * j + 4], expected)
        np.testing.assert_array_equal(shard.traces[:, 800 * j: 800 * (j + 1)], v[:, ::int(round(0.1 / simulator["dt"]))])
    assert (shard.x[:, 4] > shard.x[:, 0]).all() or simulator["name"] == "binomial"
    assert (shard.x[:, 6] > shard.x[:, 2]).all()  # 40 pA depolarises more than 20 pA
    assert not np.array_equal(sweep_seeds_of(seeds, 1), seeds)


@pytest.mark.parametrize("simulator", [{"name": "binomial", "dt": 0.01},
                                       {"name": "deterministic", "dt": 0.025}])
def test_current_in_pA_on_two_areas_is_the_equivalent_density(simulator):
    """20 pA on 200 µm² and 40 pA on 400 µm² are both 10 µA/cm²: the same trace as the step
    of amplitude 10 µA/cm² (same seeds; the binomial channel numbers differ with the area,
    so there the deterministic comparison is per area)."""
    from mfnpe.hh.model import constants_table
    from mfnpe.simulation import simulators
    run = simulators.batch_function(SimulatorSettings.from_dict(simulator))
    step = Stimulus(80.0, 20.0, 70.0)
    seeds = np.array([5, 6], dtype=np.uint32)
    for area, pA in ((200.0, 20.0), (400.0, 40.0)):
        constants = constants_table({"area": area, "amplitude": 100.0 * pA / area})
        constants = {k: np.repeat(v, 2) for k, v in constants.items()}
        protocol = Protocol(80.0, 0.0, (Epoch(20.0, 50.0, pA),))
        dt = simulator["dt"]
        np.testing.assert_allclose(protocol.current_scale(constants)[:, None] * protocol.waveform(dt),
                                   step.current_scale(constants)[:, None] * step.waveform(dt),
                                   rtol=1e-12)
        in_pA = run(constants, protocol, seeds=seeds).v
        density = run(constants, step, seeds=seeds).v
        np.testing.assert_allclose(in_pA, density, rtol=0, atol=1e-6)


def test_feature_windows_rest_before_the_first_epoch_stimulus_the_longest():
    protocol = Protocol(100.0, 0.0, (Epoch(5.0, 10.0, -20.0), Epoch(30.0, 40.0, 50.0),
                                     Epoch(70.0, 40.0 - 10.0, 10.0)))
    windows = feature_windows(protocol)
    assert (windows.rest_end, windows.t_on, windows.t_off) == (5.0, 30.0, 70.0)
    # the passive features' epoch: the one below the holding current, after 5 ms at holding
    assert (windows.passive.start, windows.passive.end, windows.passive.current_pA) == (
        5.0, 15.0, -20.0)
    ties = Protocol(100.0, 0.0, (Epoch(10.0, 20.0, 5.0), Epoch(50.0, 20.0, 9.0)))
    assert feature_windows(ties) == Windows(10.0, 10.0, 30.0)  # the first of the longest
    # no epoch below the holding current: no passive epoch
    assert feature_windows(ties).passive is None
    with pytest.raises(ValueError, match="no epoch"):
        feature_windows(Protocol(100.0, 3.0))


def test_crop_keeps_the_window_in_window_time():
    cropped = crop(PROTOCOL, (5.0, 50.0))
    assert cropped == Protocol(45.0, -20.0, (Epoch(5.0, 20.0, 100.0), Epoch(25.0, 15.0, -50.0)))
    assert crop(PROTOCOL, None) is PROTOCOL
    with pytest.raises(ValueError, match="not inside"):
        crop(PROTOCOL, (0.0, 90.0))
    np.testing.assert_array_equal(current_pA(crop(PROTOCOL, (10.0, 80.0)), 0.05),
                                  current_pA(PROTOCOL, 0.05)[200:])


def test_protocol_settings_round_trip_as_plain_floats():
    plain = to_settings(PROTOCOL, 4)
    assert plain == {"sweep": 4, "duration": 80.0, "holding": -20.0,
                     "epochs": [[10.0, 20.0, 100.0], [30.0, 15.0, -50.0], [60.0, 10.0, 200.0]]}
    assert from_settings(plain) == PROTOCOL


def test_the_step_stimulus_shard_is_one_simulation_per_row_as_before():
    """The step keeps its path: the shard's x is the step simulated under the shard's own
    seeds, features in the step's windows, plain names (no sweep tag)."""
    from mfnpe.hh.model import constants_table
    from mfnpe.simulation import features, simulators
    from mfnpe.simulation.experiment import ExperimentSimulation
    from mfnpe.simulation.shard import simulate_shard
    simulator = {"name": "deterministic", "dt": 0.025}
    step = {"duration": 60.0, "t_on": 5.0, "t_off": 55.0}
    theta = np.array([[120.0, 36.0], [90.0, 50.0]])
    seeds = np.array([3, 4], dtype=np.uint32)
    experiment = ExperimentSimulation.from_dict({
        "simulator": simulator, "model": {}, "stimulus": step,
        "features": ["spike_count", "rest_mean"], "trace_dt": 0.1})
    shard = simulate_shard(theta, ["gNa", "gK"], experiment, seeds)
    v = simulators.batch_function(experiment.simulator)(constants_table({}, theta, ["gNa", "gK"]),
                                             Stimulus(**step), seeds=seeds).v
    assert shard.feature_names == ["spike_count", "rest_mean"]
    np.testing.assert_array_equal(shard.x, features.compute_features(
        v, 0.025, Stimulus(**step), ["spike_count", "rest_mean"]))
    np.testing.assert_array_equal(shard.traces, v[:, ::4])


def test_a_holding_current_starts_every_simulator_at_its_steady_state():
    """With -30 pA held on 300 µm² (-10 µA/cm²) and no epoch, V starts at the root of
    I_ss(V) = I_hold and stays there (deterministic: within 0.01 mV over 20 ms), below the
    zero-current rest; binomial at a huge area starts there too."""
    from mfnpe.hh import langevin, markov
    from mfnpe.hh.model import constants_table
    from mfnpe.hh.rest import resting_potential
    from mfnpe.stimulus.protocols import make_protocol

    protocol = make_protocol(20.0, -30.0, [])
    table = constants_table({"area": 300.0}, np.zeros((1, 0)))
    held = protocol.holding_current(table)
    np.testing.assert_allclose(held, [-10.0])
    v_held, v_rest = resting_potential(table, held)[0], resting_potential(table)[0]
    assert v_held < v_rest - 3.0  # hyperpolarised by the held current
    det = langevin.simulate_deterministic(table, protocol, 0.01, np.zeros(1, np.uint32)).v[0]
    assert abs(det[0] - v_held) < 1e-4 and np.abs(det - v_held).max() < 0.01
    huge = constants_table({"area": 1e8}, np.zeros((1, 0)))
    binomial = markov.simulate_binomial(huge, protocol, 0.01, np.zeros(1, np.uint32)).v[0]
    expected = resting_potential(huge, protocol.holding_current(huge))[0]
    assert abs(binomial[0] - expected) < 1e-4 and np.abs(binomial - expected).max() < 0.05
