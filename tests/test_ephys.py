"""ABF and NWB current-clamp readers: a real Clampex file, files written here (HF
simulations at a known theta under a known multi-epoch protocol), every named error, lazy reading, and features at any sampling rate."""

import struct
from contextlib import contextmanager

import h5py
import numpy as np
import pyabf
import pyabf.abfWriter
import pytest

from mfnpe.hh import markov
from mfnpe.hh.model import constants_table
from mfnpe.stimulus.step import Stimulus
from mfnpe.recordings import ephys
from mfnpe.recordings.commands import common_protocol
from mfnpe.recordings.errors import (NotPiecewiseConstantError, ProtocolMismatchError,
                                     RecordingError)
from mfnpe.stimulus.protocols import Epoch, Protocol, current_pA, feature_windows
from mfnpe.simulation import features
from recording_files import (DT, HF_DT, HOLDING, N_SAMPLES, RATE, REAL_ABF, simulated_sweeps,
                             write_abf, write_nwb, written_protocol, written_sweeps)

@pytest.fixture(scope="module")
def abf_file(tmp_path_factory):
    voltage, command = written_sweeps()
    return write_abf(tmp_path_factory.mktemp("abf") / "cell.abf", [voltage, command],
                     ["mV", "pA"])


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    voltage, command = written_sweeps()
    sweeps = [{"voltage": v, "command": c} for v, c in zip(voltage, command)]
    return write_nwb(tmp_path_factory.mktemp("nwb") / "cell.nwb", sweeps)


@contextmanager
def raises_for(error_type, path, *words):
    """Expect ``error_type`` (a RecordingError) with a message that starts with ``path``
    and holds every one of ``words``."""
    with pytest.raises(error_type) as info:
        yield info
    message = str(info.value)
    assert isinstance(info.value, RecordingError)
    assert message.startswith(str(path)), message
    assert all(word in message for word in words), message


# ---------------------------------------------------------------------------- the real file

def test_the_real_abf_file_lists_22_sweeps_of_3_s_at_20_khz():
    sweeps = ephys.list_sweeps(REAL_ABF)
    assert len(sweeps) == 22
    assert {(s.rate_hz, s.n_samples, s.clamp) for s in sweeps} == {(20_000.0, 60_000, "current")}
    assert sweeps[0].duration_ms == pytest.approx(3000.0)


def test_the_real_abf_protocol_is_the_dual_step_from_its_epoch_table():
    pre = 937 * DT  # Clampex's pre-sweep holding: 1/64 of the 60000 samples
    with ephys.open_ephys(REAL_ABF) as cell:
        abf = pyabf.ABF(str(REAL_ABF))
        for sweep in range(22):
            step = -100.0 + 100.0 * sweep
            first = (pre + 100.0, 500.0, step)  # epoch B, after the 100 ms of epoch A
            levels = [first, (pre + 1100.0, 500.0, -100.0), (pre + 1600.0, 500.0, step)]
            expected = Protocol(3000.0, 0.0, tuple(Epoch(*level) for level in levels
                                                   if level[2] != 0.0))
            if sweep == 0:  # epochs D and E are both -100 pA: one epoch
                expected = Protocol(3000.0, 0.0, (Epoch(pre + 100.0, 500.0, -100.0),
                                                  Epoch(pre + 1100.0, 1000.0, -100.0)))
            protocol = cell.protocol(sweep)
            assert protocol.matches(expected, tolerance_ms=1e-9), (sweep, protocol)
            abf.setSweep(sweep)  # pyabf's command waveform, built from the same table
            np.testing.assert_array_equal(current_pA(protocol, DT), abf.sweepC)
        assert cell.find(400.0) == [5]
        assert cell.find(-100.0, at_ms=300.0) == [0]
        assert cell.find(0.0, at_ms=2000.0) == [1]


def test_the_real_abf_voltage_and_spikes():
    abf = pyabf.ABF(str(REAL_ABF))
    sweeps = ephys.read_sweeps(REAL_ABF, [0, 1, 11])
    for sweep in sweeps:
        abf.setSweep(sweep.index)
        np.testing.assert_allclose(sweep.voltage, abf.sweepY, atol=1e-4)
        np.testing.assert_allclose(sweep.time, abf.sweepX * 1000.0, atol=1e-9)
        assert sweep.dt == pytest.approx(0.05) and sweep.command.shape == (60_000,)
        assert -70.0 < np.median(sweep.voltage) < -55.0
    # silent at -100 and 0 pA; firing in both 1000 pA steps of sweep 11
    assert [features.spike_times(s.voltage, s.dt).size for s in sweeps[:2]] == [0, 0]
    spikes = features.spike_times(sweeps[2].voltage, sweeps[2].dt)
    first_step, second_step = sweeps[2].protocol.epochs[0], sweeps[2].protocol.epochs[2]
    assert first_step.amplitude == second_step.amplitude == 1000.0
    for step in (first_step, second_step):
        assert ((spikes >= step.start) & (spikes < step.end + 5.0)).sum() >= 5
    assert ((spikes > 700.0) & (spikes < 1100.0)).sum() == 0  # between the steps, at 0 pA


def test_the_real_abf_is_read_lazily():
    with ephys.open_ephys(REAL_ABF) as cell:
        sweep = cell.read(3, window_ms=(100.0, 200.0))
        assert not hasattr(cell.abf, "data")  # pyabf never loaded the whole file
    assert sweep.time[0] == pytest.approx(100.0) and sweep.voltage.shape == (2000,)


# ---------------------------------------------------------------------------- written files

@pytest.mark.parametrize("kind", ["abf", "nwb"])
def test_a_written_file_gives_back_its_protocol_exactly(kind, abf_file, nwb_file):
    path = abf_file if kind == "abf" else nwb_file
    voltage, command = written_sweeps()
    with ephys.open_ephys(path) as cell:
        assert [(s.rate_hz, s.n_samples, s.clamp) for s in cell.sweeps] == \
            [(RATE, N_SAMPLES, "current")] * 3
        for index in range(3):
            assert cell.protocol(index) == written_protocol(index)
            sweep = cell.read(index)
            np.testing.assert_allclose(sweep.command, command[index], rtol=0, atol=1e-4)
            np.testing.assert_allclose(sweep.voltage, voltage[index], atol=0.031)
            np.testing.assert_allclose(sweep.time, np.arange(N_SAMPLES) * DT)
        assert cell.find(187.5) == [1]
        assert cell.find(-62.5) == [0, 1, 2]
        assert cell.find(HOLDING, at_ms=110.0) == [0, 1, 2]


@pytest.mark.parametrize("kind", ["abf", "nwb"])
def test_a_written_hf_simulation_reads_back_with_its_features(kind, abf_file, nwb_file):
    """The files hold HF simulations at THETA_TRUE: read at 20 kHz in the protocol's windows,
    each sweep has the spike count of its 100 kHz simulation and the same rest (the
    simulation starts at rest under the -31.25 pA holding current: no relaxation)."""
    path = abf_file if kind == "abf" else nwb_file
    _, fine, _ = simulated_sweeps(3)
    counts = []
    with ephys.open_ephys(path) as cell:
        for index in range(3):
            windows = feature_windows(cell.protocol(index))
            sweep = cell.read(index)
            names = ["spike_count", "rest_mean", "rest_std"]
            read = features.compute_features(sweep.voltage[None], DT, windows, names)[0]
            simulated = features.compute_features(fine[index][None], HF_DT, windows, names)[0]
            assert read[0] == simulated[0]
            assert abs(read[1] - simulated[1]) < 0.05 and read[2] < 0.5
            counts.append(read[0])
    assert counts[0] < counts[2]  # the step rises by 125 pA a sweep


def test_abf_and_nwb_protocols_of_the_same_sweeps_are_one_protocol(abf_file, nwb_file):
    with ephys.open_ephys(abf_file) as abf, ephys.open_ephys(nwb_file) as nwb:
        for index in range(3):
            from_abf = abf.protocol(index)
            assert common_protocol([from_abf, nwb.protocol(index)], "both") == from_abf


def test_a_window_reads_only_its_samples_and_keeps_sweep_time(abf_file, nwb_file):
    for path in (abf_file, nwb_file):
        whole, window = (ephys.read_sweeps(path, [2], window_ms=w)[0]
                         for w in (None, (50.0, 150.0)))
        assert window.time[0] == pytest.approx(50.0) and window.voltage.size == 2000
        np.testing.assert_array_equal(window.voltage, whole.voltage[1000:3000])
        np.testing.assert_array_equal(window.command, whole.command[1000:3000])
        assert window.protocol == whole.protocol


def test_units_and_conversion_factors_come_from_the_file(tmp_path):
    voltage, command = written_sweeps(1)
    path = write_nwb(tmp_path / "units.nwb", [{"voltage": voltage[0], "command": command[0]}])
    with h5py.File(path, "r+") as handle:  # the same samples, declared in mV and in nA
        response = handle["acquisition/data_00000_AD0/data"]
        response.attrs.update({"unit": "mV", "conversion": 1.0})
        stimulus = handle["stimulus/presentation/data_00000_DA0/data"]
        stimulus.attrs.update({"unit": "nA", "conversion": 1e-3})
    sweep = ephys.read_sweeps(path, [0])[0]
    np.testing.assert_allclose(sweep.voltage, voltage[0], atol=1e-4)
    np.testing.assert_allclose(sweep.command, command[0], atol=1e-9)
    assert sweep.protocol == written_protocol(0)
    with h5py.File(path, "r+") as handle:  # now 1000x too large: the file says volts
        handle["acquisition/data_00000_AD0/data"].attrs["unit"] = "volts"
    np.testing.assert_allclose(ephys.read_sweeps(path, [0])[0].voltage, 1000 * voltage[0],
                               rtol=1e-6)


def test_sweeps_pair_with_their_stimuli_by_sweep_number_without_the_table(tmp_path):
    voltage, command = written_sweeps()
    path = write_nwb(tmp_path / "no_table.nwb",
                     [{"voltage": v, "command": c} for v, c in zip(voltage, command)],
                     table=False)
    with ephys.open_ephys(path) as cell:
        assert [cell.protocol(i) for i in range(3)] == [written_protocol(i) for i in range(3)]


def test_an_nwb_sweep_is_read_by_slicing_only_its_own_datasets(nwb_file, monkeypatch):
    reads = []
    original = h5py.Dataset.__getitem__

    def recording_getitem(dataset, selection):
        reads.append((dataset.name, selection))
        return original(dataset, selection)

    with ephys.open_ephys(nwb_file) as cell:
        monkeypatch.setattr(h5py.Dataset, "__getitem__", recording_getitem)
        sweep = cell.read(1, window_ms=(50.0, 60.0))
        monkeypatch.undo()
    data_reads = [(name, selection) for name, selection in reads if name.endswith("/data")]
    assert {name for name, _ in data_reads} == {"/acquisition/data_00001_AD0/data",
                                                "/stimulus/presentation/data_00001_DA0/data"}
    response = [s for name, s in data_reads if "AD0" in name]
    assert response == [slice(1000, 1200)]  # the window only
    assert sweep.voltage.size == 200


def test_chosen_sweeps_with_different_protocols_are_refused_when_one_is_asked(nwb_file):
    with raises_for(ProtocolMismatchError, nwb_file, "different protocols", "sweep 0",
                    "sweep 2"):
        ephys.read_sweeps(nwb_file, [0, 2], same_protocol=True)
    assert len(ephys.read_sweeps(nwb_file, [0, 2])) == 2  # without the demand: both read
    assert len(ephys.read_sweeps(nwb_file, [1, 1], same_protocol=True)) == 2


# ---------------------------------------------------------------------------- named errors

def test_a_voltage_clamp_series_is_refused(tmp_path):
    voltage, command = written_sweeps(1)
    path = write_nwb(tmp_path / "vc.nwb", [
        {"voltage": voltage[0], "command": command[0]},
        {"voltage": np.full(N_SAMPLES, 50.0), "command": np.full(N_SAMPLES, -70.0),
         "clamp": "voltage"}])
    with ephys.open_ephys(path) as cell:
        assert [s.clamp for s in cell.sweeps] == ["current", "voltage"]
        assert cell.read(0).protocol == written_protocol(0)
        with raises_for(ephys.VoltageClampError, path, "sweep 1", "voltage-clamp"):
            cell.read(1)
    assert [s.index for s in ephys.read_sweeps(path)] == [0]  # default: current clamp only


def test_a_voltage_clamp_abf_is_refused(tmp_path):
    voltage, command = written_sweeps(1)
    path = write_abf(tmp_path / "vc.abf", [command], ["pA"])  # a current, no voltage
    with raises_for(ephys.VoltageClampError, path, "voltage-clamp"):
        ephys.open_ephys(path)
    # membrane current first, the potential second, DAC 0 commanding mV
    path = write_abf(tmp_path / "vc2.abf", [command, voltage], ["pA", "mV"])
    header = bytearray(path.read_bytes())
    struct.pack_into("8s", header, 1346, b"mV      ")  # sDACChannelUnit[0]
    path.write_bytes(bytes(header))
    with raises_for(ephys.VoltageClampError, path, "DAC 0", "'mV'", "voltage-clamp"):
        ephys.open_ephys(path)


def test_a_missing_command_is_refused(tmp_path):
    voltage, _ = written_sweeps(1)
    abf = write_abf(tmp_path / "voltage_only.abf", [voltage], ["mV"])
    with raises_for(ephys.MissingCommandError, abf, "no command current"):
        ephys.open_ephys(abf).read(0)
    nwb = write_nwb(tmp_path / "no_stimulus.nwb", [{"voltage": voltage[0], "command": None}])
    with ephys.open_ephys(nwb) as cell, raises_for(ephys.MissingCommandError, nwb, "sweep 0",
                                                   "no stimulus"):
        cell.protocol(0)


def test_a_ramp_command_is_refused(tmp_path):
    voltage, _ = written_sweeps(1)
    ramp = HOLDING + np.clip(np.arange(N_SAMPLES) * DT - 20.0, 0.0, None) * 2.0  # 2 pA/ms
    path = write_nwb(tmp_path / "ramp.nwb", [{"voltage": voltage[0], "command": ramp}])
    with ephys.open_ephys(path) as cell:
        with raises_for(NotPiecewiseConstantError, path, "sweep 0", "not piecewise constant"):
            cell.read(0)
        assert cell.find(HOLDING, at_ms=10.0) == []  # skipped when choosing by amplitude


def test_nan_samples_are_refused(tmp_path):
    voltage, command = written_sweeps(1)
    broken_voltage, broken_command = voltage[0].copy(), command[0].copy()
    broken_voltage[1500:1510] = np.nan
    broken_command[10] = np.nan
    path = write_nwb(tmp_path / "nan.nwb", [{"voltage": broken_voltage, "command": command[0]},
                                            {"voltage": voltage[0], "command": broken_command}])
    with ephys.open_ephys(path) as cell:
        with raises_for(ephys.NonFiniteSamplesError, path, "sweep 0", "10 NaN", "voltage",
                        "t = 75 ms"):
            cell.read(0)
        with raises_for(ephys.NonFiniteSamplesError, path, "sweep 1", "command"):
            cell.read(1)


def test_unknown_units_are_refused(tmp_path):
    voltage, command = written_sweeps(1)
    abf = write_abf(tmp_path / "units.abf", [voltage, command], ["mVolt", "pA"])
    with raises_for(ephys.UnitError, abf, "unknown unit", "mVolt"):
        ephys.open_ephys(abf)
    abf = write_abf(tmp_path / "units2.abf", [voltage], ["furlong"])
    with raises_for(ephys.UnitError, abf, "unknown unit", "furlong"):
        ephys.open_ephys(abf)
    nwb = write_nwb(tmp_path / "units.nwb", [{"voltage": voltage[0], "command": command[0]}])
    with h5py.File(nwb, "r+") as handle:
        handle["acquisition/data_00000_AD0/data"].attrs["unit"] = "furlongs"
    with ephys.open_ephys(nwb) as cell, raises_for(ephys.UnitError, nwb, "unknown", "furlongs"):
        cell.read(0)


def test_sampling_below_10_khz_is_refused(tmp_path):
    voltage, command = written_sweeps(1)
    nwb = write_nwb(tmp_path / "slow.nwb", [{"voltage": voltage[0][::4],
                                             "command": command[0][::4], "rate": 5000.0}])
    with ephys.open_ephys(nwb) as cell:
        assert cell.sweeps[0].rate_hz == 5000.0  # listed, but not read
        with raises_for(ephys.SamplingRateError, nwb, "5000 Hz", "10000 Hz"):
            cell.read(0)
    abf = write_abf(tmp_path / "slow.abf", [voltage[:, ::4], command[:, ::4]], ["mV", "pA"],
                    rate=5000.0)
    with raises_for(ephys.SamplingRateError, abf, "5000 Hz"):
        ephys.read_sweeps(abf)


def test_a_sweep_index_out_of_range_is_refused(abf_file, nwb_file):
    for path in (abf_file, nwb_file):
        with ephys.open_ephys(path) as cell:
            for index in (3, -1):
                with raises_for(ephys.SweepIndexError, path, "out of range", "3 sweeps"):
                    cell.read(index)


def test_other_files_are_refused(tmp_path):
    with raises_for(RecordingError, tmp_path / "absent.abf", "does not exist"):
        ephys.open_ephys(tmp_path / "absent.abf")
    for name in ("junk.abf", "junk.nwb", "junk.txt"):
        (tmp_path / name).write_bytes(b"not a recording" * 10)
        with raises_for(RecordingError, tmp_path / name):
            ephys.open_ephys(tmp_path / name)


# ---------------------------------------------------------------------------- sampling rates

RATE_TOLERANCES = {  # |feature at a lower rate - feature at 100 kHz|, at 10 to 50 kHz
    "spike_count": 0.0,
    "rest_mean": 0.1, "rest_std": 0.1, "stim_mean": 0.05,  # mV
    "stim_var": 0.005,  # relative
    "stim_skew": 0.01, "stim_kurtosis": 0.02,
    "isi_cv": 0.01,
}
"""The timing features (latency, mean ISI) are held to the coarser sampling interval: a
spike's peak is a sample, within dt/2 of the true peak at either rate."""


def test_features_do_not_depend_on_the_sampling_rate():
    stimulus = Stimulus(120.0, 10.0, 110.0)
    amplitudes = np.array([0.0, 3.0, 6.0, 10.0, 15.0, 25.0])  # µA/cm²: silent to fast firing
    constants = constants_table({"area": 100.0}, np.zeros((amplitudes.size, 0)), ())
    constants["amplitude"] = amplitudes
    seeds = np.arange(amplitudes.size, dtype=np.uint32) + 7
    v = markov.simulate_markov(constants, stimulus, 0.01, seeds).v  # 100 kHz
    reference = dict(zip(features.NAMES, features.all_features(v, 0.01, stimulus).T))
    assert reference["spike_count"][0] <= 2 and reference["spike_count"][-1] >= 8
    for step in (2, 5, 10):  # 50, 20, 10 kHz
        dt = 0.01 * step
        decimated = dict(zip(features.NAMES, features.all_features(v[:, ::step], dt, stimulus).T))
        for name, tolerance in RATE_TOLERANCES.items():
            if name == "stim_var":
                np.testing.assert_allclose(decimated[name], reference[name], rtol=tolerance)
            else:
                np.testing.assert_allclose(decimated[name], reference[name], atol=tolerance,
                                           err_msg=f"{name} at {100 / step:g} kHz")
        for name in ("first_spike_latency", "isi_mean"):
            np.testing.assert_allclose(decimated[name], reference[name], atol=dt + 1e-6,
                                       err_msg=f"{name} at {100 / step:g} kHz")
