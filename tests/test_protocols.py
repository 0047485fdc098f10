"""Piecewise-constant protocols: built from levels and waveforms, refused when not
piecewise constant, turned into per-step currents in pA and µA/cm²."""

import numpy as np
import pytest

from mfnpe.hh.stimulus import Stimulus
from mfnpe.observation.protocols import (Epoch, NotPiecewiseConstantError, Protocol,
                                         ProtocolMismatchError, common_protocol, current_density,
                                         current_pA, make_protocol, protocol_from_waveform)
from mfnpe.observation.recordings import RecordingError

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
