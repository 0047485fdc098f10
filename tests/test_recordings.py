"""Recordings: the HDF5 and CSV formats, the checks against the protocol, and the shipped
synthetic examples."""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from mfnpe.plan import observations
from mfnpe.plan.config import load_config
from workflow_helpers import CONFIG_SCHEMA
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.simulation.shard import simulate_shard
from mfnpe.observation.predictive import synthetic_recording
from mfnpe.observation.observed import recording_features
from mfnpe.recordings.errors import RecordingError
from mfnpe.recordings.step import Recording, read_recording, write_recording
from mfnpe.seeds import observation_seeds

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = load_config(ROOT / "config" / "config.yaml", CONFIG_SCHEMA)
PROTOCOL = observations.protocol(DEFAULT)  # 120 ms, step 10-110 ms of 10 µA/cm², dt 0.01 ms
STIMULUS = {"t_on": 10.0, "t_off": 110.0, "amplitude": 10.0}


def recording(duration: float = 120.0, dt: float = 0.01, **changes) -> Recording:
    """A spiking-like trace: rest at -65 mV with 2 ms spikes to +30 mV every 15 ms."""
    time = np.arange(int(round(duration / dt))) * dt
    voltage = np.where((time % 15.0 < 2.0) & (time > 12.0), 30.0, -65.0) + np.sin(time)
    fields = dict(name="rec", time=time, voltage=voltage, dt=dt, stimulus=dict(STIMULUS),
                  true_theta={"gNa": 120.0, "gK": 36.0, "gL": 0.3})
    return Recording(**{**fields, **changes})


@pytest.mark.parametrize("suffix", [".h5", ".hdf5", ".csv"])
def test_round_trip(tmp_path, suffix):
    path = tmp_path / f"rec{suffix}"
    original = recording()
    write_recording(path, original)
    back = read_recording(path, PROTOCOL)
    assert back.name == "rec" and back.path == path and back.dt == pytest.approx(0.01)
    assert np.allclose(back.time, original.time, rtol=0, atol=1e-9)
    assert np.allclose(back.voltage, original.voltage, rtol=0,
                       atol=5e-5 if suffix == ".csv" else 0)  # CSV: 0.1 µV resolution
    assert back.stimulus == STIMULUS and back.true_theta == original.true_theta


def test_a_longer_recording_is_cropped_to_the_protocol(tmp_path):
    path = tmp_path / "long.h5"
    write_recording(path, recording(duration=150.0))
    back = read_recording(path, PROTOCOL)
    assert len(back.voltage) == 12000 and back.time[-1] == pytest.approx(119.99)


def test_a_long_hdf5_recording_is_read_only_over_the_protocols_samples(tmp_path, monkeypatch):
    """h5py reads just the protocol's 12 000 samples of a recording 50x longer: NaNs beyond
    them are never looked at, and every dataset read is that slice."""
    long = recording(duration=6000.0)
    long.voltage[12000:] = np.nan
    path = tmp_path / "long.h5"
    write_recording(path, long)
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(dataset, key, *args, **kwargs):
        reads.append((dataset.name, key))
        return original(dataset, key, *args, **kwargs)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    back = read_recording(path, PROTOCOL)
    assert len(back.time) == len(back.voltage) == 12000 and np.isfinite(back.voltage).all()
    assert np.array_equal(back.voltage, long.voltage[:12000])
    assert reads == [("/time", slice(None, 12000)), ("/voltage", slice(None, 12000))]


def test_a_long_csv_recording_is_parsed_only_over_the_protocols_samples(tmp_path):
    """Rows after the protocol's samples are never parsed (the reader streams and stops)."""
    path = tmp_path / "long.csv"
    write_recording(path, recording())
    with open(path, "a") as handle:
        handle.write("not,a number\n" * 1000)
    back = read_recording(path, PROTOCOL)
    assert len(back.voltage) == 12000
    assert np.allclose(back.voltage, recording().voltage, rtol=0, atol=5e-5)
    # within the protocol's samples every row is still checked
    lines = path.read_text().splitlines()
    lines[7 + 11999] = "119.99,oops"
    path.write_text("\n".join(lines))
    with pytest.raises(RecordingError, match=f"^{re.escape(str(path))}: cannot read the "
                       "samples after the header row"):
        read_recording(path, PROTOCOL)


def test_an_inferred_amplitude_is_not_checked(tmp_path):
    path = tmp_path / "rec.csv"
    write_recording(path, recording(stimulus={**STIMULUS, "amplitude": 7.5}, true_theta=None))
    with pytest.raises(RecordingError, match="stimulus_amplitude is 7.5"):
        read_recording(path, PROTOCOL)
    back = read_recording(path, {**PROTOCOL, "amplitude": None})
    assert back.stimulus["amplitude"] == 7.5 and back.true_theta is None


def _write_hdf5(path, time, voltage, units=("ms", "mV"), attrs=None):
    with h5py.File(path, "w") as handle:
        for name, data, unit in (("time", time, units[0]), ("voltage", voltage, units[1])):
            if data is not None:
                handle[name] = data
                handle[name].attrs["unit"] = unit
        handle.attrs.update({f"stimulus_{k}": v for k, v in STIMULUS.items()}
                            if attrs is None else attrs)


def _faulty(kind: str, tmp_path: Path) -> Path:
    """A recording with one fault (the others as in :func:`recording`)."""
    good = recording()
    time, voltage = good.time, good.voltage
    path = tmp_path / f"bad-{kind}.h5"
    if kind == "seconds":  # time values in s, declared ms
        _write_hdf5(path, time / 1000, voltage)
    elif kind == "seconds_unit":
        _write_hdf5(path, time / 1000, voltage, units=("s", "mV"))
    elif kind == "volts":
        _write_hdf5(path, time, voltage / 1000)
    elif kind == "volts_with_an_artefact":  # volts, declared mV, one sample above 1
        _write_hdf5(path, time, np.where(np.arange(len(time)) == 50, 1.5, voltage / 1000))
    elif kind == "scaled":  # mV times ten
        _write_hdf5(path, time, voltage * 10)
    elif kind == "duplicate_column":
        path = tmp_path / "bad.csv"
        path.write_text("# stimulus_t_on: 10\n# stimulus_t_off: 110\n# stimulus_amplitude: 10\n"
                        "time_ms,voltage_mV,voltage_mV\n"
                        + "".join(f"{t},{v},{v}\n" for t, v in zip(time, voltage)))
    elif kind == "nan":
        _write_hdf5(path, time, np.where(np.arange(len(time)) >= 500, np.nan, voltage))
    elif kind == "non_uniform":
        _write_hdf5(path, np.delete(time, 700), np.delete(voltage, 700))
    elif kind == "not_increasing":
        _write_hdf5(path, time[::-1], voltage)
    elif kind == "wrong_dt":
        _write_hdf5(path, time[::2], voltage[::2])
    elif kind == "late_start":
        _write_hdf5(path, time + 5.0, voltage)
    elif kind == "missing_stimulus":
        _write_hdf5(path, time, voltage, attrs={"stimulus_t_on": 10.0})
    elif kind == "stimulus_mismatch":
        _write_hdf5(path, time, voltage, attrs={"stimulus_t_on": 20.0, "stimulus_t_off": 110.0,
                                                "stimulus_amplitude": 10.0})
    elif kind == "too_short":
        _write_hdf5(path, time[:10000], voltage[:10000])
    elif kind == "missing_voltage":
        _write_hdf5(path, time, None)
    elif kind == "length_mismatch":  # both longer than the protocol, one sample apart
        long = recording(duration=150.0)
        _write_hdf5(path, long.time, long.voltage[:-1])
    elif kind == "text_dataset":
        _write_hdf5(path, time.astype(str).astype("S"), voltage)
    elif kind == "missing_voltage_column":
        path = tmp_path / "bad.csv"
        path.write_text("# stimulus_t_on: 10\n# stimulus_t_off: 110\n# stimulus_amplitude: 10\n"
                        "time_ms,current_pA\n" + "".join(f"{t},0\n" for t in time))
    elif kind == "csv_nan":
        path = tmp_path / "bad.csv"
        write_recording(path, good)
        lines = path.read_text().splitlines()
        lines[7 + 300] = f"{time[300]},nan"  # 6 header lines, the column names, then samples
        path.write_text("\n".join(lines))
    elif kind == "unknown_suffix":
        path = tmp_path / "rec.txt"
        path.write_text("time_ms,voltage_mV\n0,1\n")
    elif kind == "not_hdf5":
        path.write_text("not an HDF5 file")
    return path


FAULTS = {
    "seconds": r"sampling interval 1e-05 ms.*looks like seconds",
    "seconds_unit": r"time is in 's', expected 'ms'",
    "volts": r"voltage looks like volts",
    "volts_with_an_artefact": r"voltage looks like volts \(median -0\.0",
    "scaled": r"median voltage -6\d\d\.?\d* mV is outside the physiological range",
    "duplicate_column": r"has two voltage columns \('voltage_mV' and 'voltage_mV'\)",
    "nan": r"11500 NaN or infinite voltage samples, the first at sample 500 \(t = 5 ms\)",
    "non_uniform": r"non-uniform sampling: intervals range from 0.01 to 0.02 ms",
    "not_increasing": r"time is not strictly increasing at sample 1",
    "wrong_dt": r"sampling interval 0.02 ms, but the posteriors were trained on traces "
                r"sampled every 0.01 ms",
    "late_start": r"time starts at 5 ms, expected 0",
    "missing_stimulus": r"stimulus key\(s\) \['stimulus_t_off', 'stimulus_amplitude'\] missing",
    "stimulus_mismatch": r"stimulus_t_on is 20 ms in the recording but the posteriors were "
                         r"trained with 10 ms",
    "too_short": r"too short: 100 ms \(10000 samples\), the protocol lasts 120 ms",
    "missing_voltage": r"dataset 'voltage' is missing",
    "length_mismatch": r"time \(15000,\) and voltage \(14999,\) must be 1-D arrays of the same "
                       r"length",
    "text_dataset": r"'time' holds \|S\d+, not numbers",
    "missing_voltage_column": r"no voltage column",
    "csv_nan": r"1 NaN or infinite voltage samples, the first at sample 300 \(t = 3 ms\)",
    "unknown_suffix": r"unknown recording format '.txt'",
    "not_hdf5": r"not a readable HDF5 file",
}


@pytest.mark.parametrize("kind", FAULTS)
def test_a_bad_recording_names_the_file_and_the_fault(kind, tmp_path):
    path = _faulty(kind, tmp_path)
    with pytest.raises(RecordingError) as error:
        read_recording(path, PROTOCOL)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(FAULTS[kind], message), message


def example_recording(config, name):
    """Example ``name`` as rule example_recording simulates it, from its settings (the
    rule's params) turned into the experiment's value."""
    settings = observations.example_settings(config, name)
    experiment = ExperimentSimulation.from_dict(
        {**{key: settings[key] for key in observations.EXAMPLE_SIMULATION_KEYS},
         "features": [], "trace_dt": None})
    assert experiment == observations.example_experiment(config)
    return synthetic_recording(name, settings["theta"], experiment, settings["seed"])


def test_features_of_a_recording_are_those_of_the_simulation(tmp_path):
    """An example written and read back has the features the shard runner computes for the
    same simulation (same seed): recordings and simulations are treated alike."""
    settings = observations.example_settings(DEFAULT, "example-1")
    experiment = observations.example_experiment(DEFAULT)
    path = tmp_path / "example-1.h5"
    write_recording(path, example_recording(DEFAULT, "example-1"))
    x = recording_features(read_recording(path, PROTOCOL), DEFAULT["features"], PROTOCOL)
    theta = np.array([list(settings["theta"].values())])
    shard = simulate_shard(theta, list(settings["theta"]),
                           experiment.with_traces(None, features=DEFAULT["features"]),
                           observation_seeds(settings["seed"], "example", "example-1", 1))
    assert np.array_equal(x, shard.x[0])
    assert x[DEFAULT["features"].index("spike_count")] >= 3  # classic HH fires tonically


REFERENCE = ROOT / "resources" / "examples"
"""Reference copies of the default config's examples (what the workflow simulates into
results/recordings/); the workflow never reads or writes them."""


@pytest.mark.parametrize("name", list(DEFAULT["observations"]["examples"]))
def test_shipped_examples_regenerate_identically_and_fit_the_default_protocol(name, tmp_path):
    simulated_into = observations.example_path(DEFAULT, name)
    # the workflow's folder under the output folder (out, default results)
    assert simulated_into.startswith(f"{observations.examples_folder(DEFAULT)}/")
    assert simulated_into.startswith("results/recordings/")
    shipped_path = REFERENCE / Path(simulated_into).name
    shipped = read_recording(shipped_path, PROTOCOL)
    again_path = tmp_path / shipped_path.name
    write_recording(again_path, example_recording(DEFAULT, name))
    assert again_path.read_bytes() == shipped_path.read_bytes()
    again = read_recording(again_path, PROTOCOL)
    assert np.array_equal(shipped.time, again.time)
    assert np.array_equal(shipped.voltage, again.voltage)
    assert shipped.stimulus == again.stimulus == STIMULUS
    theta = DEFAULT["observations"]["examples"][name]["theta"]
    assert shipped.true_theta == again.true_theta == theta
    x = recording_features(shipped, DEFAULT["features"], PROTOCOL)
    assert np.isfinite(x).all()


# ---- observations under a recording stimulus (mfnpe.recordings.sweeps) ----

REAL_ABF = ROOT / "tests" / "data" / "recordings" / "171116sh_0019.abf"


def sweep_config(sweeps=(2, 3, 4), window=(0.0, 700.0), **overrides):
    """The default config with the real ABF's sweeps as its stimulus, resolved."""
    from mfnpe.recordings.stimulus import resolve
    from mfnpe.plan.config import resolve_recording, validate_config
    config = validate_config({"stimulus": {"recording": str(REAL_ABF), "sweeps": list(sweeps),
                                           "window_ms": list(window)},
                              "observations": {"dir": None, "examples": {}}, **overrides}, CONFIG_SCHEMA)
    resolve_recording(config, [], resolve)
    return config


def test_the_abf_is_read_at_its_own_rate_with_features_per_sweep():
    from mfnpe.observation.observed import observed_features, observed_trace
    from mfnpe.recordings.sweeps import SweepRecording, read_observed
    from mfnpe.stimulus.sweeps import stimulus_names
    from mfnpe.simulation.features import spike_times
    config = sweep_config()
    protocol = observations.protocol(config)
    cell = read_observed(REAL_ABF, protocol)
    assert isinstance(cell, SweepRecording) and cell.name == "171116sh_0019"
    assert cell.sweeps == [2, 3, 4] and cell.dts == [0.05] * 3  # 20 kHz, not resampled
    assert [len(v) for v in cell.voltages] == [14000] * 3  # [0, 700) ms
    x = dict(zip(stimulus_names(config), observed_features(cell, config["features"], protocol)))
    assert len(x) == 30
    # the 100, 200 and 300 pA steps on [146.85, 646.85) ms fire 3, 6 and 9 spikes
    for sweep, count in ((2, 3), (3, 6), (4, 9)):
        spikes = spike_times(cell.voltages[cell.sweeps.index(sweep)], 0.05)
        assert x[f"spike_count@{sweep}"] == count == ((spikes >= 146.85) & (spikes < 646.85)).sum()
        assert x[f"first_spike_latency@{sweep}"] == pytest.approx(spikes[0] - 146.85, abs=0.05)
        assert -65.0 < x[f"rest_mean@{sweep}"] < -60.0
    assert observed_trace(cell, 0.1).shape == (3 * 7000,)


def test_a_window_moves_time_zero_to_its_start():
    from mfnpe.observation.observed import observed_features
    from mfnpe.recordings.sweeps import read_observed
    whole, cropped = sweep_config(sweeps=[3]), sweep_config(sweeps=[3], window=(100.0, 700.0))
    assert cropped["stimulus"]["protocols"][0]["epochs"] == [[46.85, 500.0, 200.0]]
    a = read_observed(REAL_ABF, observations.protocol(whole))
    b = read_observed(REAL_ABF, observations.protocol(cropped))
    np.testing.assert_array_equal(b.voltages[0], a.voltages[0][2000:])
    xa = observed_features(a, ["spike_count", "stim_mean", "first_spike_latency"],
                           observations.protocol(whole))
    xb = observed_features(b, ["spike_count", "stim_mean", "first_spike_latency"],
                           observations.protocol(cropped))
    np.testing.assert_allclose(xa, xb)  # same stimulus window in sweep time


def test_a_multi_sweep_example_round_trips_and_is_checked(tmp_path):
    from mfnpe.observation.observed import observed_features
    from mfnpe.recordings.sweeps import SweepRecording, read_observed, write_sweep_recording
    config = sweep_config(sweeps=[3, 4], window=(100.0, 250.0), model={"area": 2000.0},
                          simulators={"lf": {"name": "deterministic", "dt": 0.025},
                                      "hf": {"name": "binomial", "dt": 0.01}})
    config["observations"]["examples"] = {"ex": {"format": "h5",
                                                 "theta": {"gNa": 120.0, "gK": 36.0, "gL": 0.3}}}
    settings = observations.example_settings(config, "ex")
    example = example_recording(config, "ex")
    assert isinstance(example, SweepRecording) and example.sweeps == [3, 4]
    assert [len(v) for v in example.voltages] == [15000, 15000] and example.dts == [0.01, 0.01]
    path = tmp_path / "ex.h5"
    write_sweep_recording(path, example, settings["stimulus"]["protocols"])
    protocol = observations.protocol(config)
    back = read_observed(path, protocol)
    assert back.true_theta == {"gNa": 120.0, "gK": 36.0, "gL": 0.3} and back.sweeps == [3, 4]
    for a, b in zip(back.voltages, example.voltages):
        np.testing.assert_array_equal(a, b)
    # the example's x is the simulation's: the shard of the same seeds
    shard = simulate_shard(np.array([[120.0, 36.0, 0.3]]), ["gNa", "gK", "gL"],
                           observations.example_experiment(config).with_traces(
                               None, features=config["features"]),
                           observation_seeds(0, "example", "ex", 1))
    np.testing.assert_allclose(observed_features(back, config["features"], protocol),
                               shard.x[0], rtol=1e-5, atol=1e-4)
    assert shard.x[0, 0] < shard.x[0, 10]  # more spikes at 300 pA than at 200 pA
    # a posterior trained on other sweeps refuses it, naming the file and sweep
    other = observations.protocol(sweep_config(sweeps=[3, 5], window=(100.0, 250.0)))
    with pytest.raises(RecordingError, match=r"ex\.h5: sweeps \[3, 4\], but the posteriors "
                                             r"were trained on sweeps \[3, 5\]"):
        read_observed(path, other)
    shifted = observations.protocol(sweep_config(sweeps=[3, 4], window=(100.0, 260.0)))
    with pytest.raises(RecordingError, match=r"ex\.h5: sweep 3: its protocol .* is not the one"):
        read_observed(path, shifted)


def test_a_single_step_recording_is_refused_under_a_recording_stimulus(tmp_path):
    from mfnpe.recordings.sweeps import read_observed
    protocol = observations.protocol(sweep_config())
    for suffix in (".h5", ".csv"):
        path = tmp_path / f"rec{suffix}"
        write_recording(path, recording())
        with pytest.raises(RecordingError, match=f"rec\\{suffix}: .*single-step"):
            read_observed(path, protocol)
