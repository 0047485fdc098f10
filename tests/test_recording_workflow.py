"""A recording as the workflow's stimulus: the config's recording form is checked before
any job (each fault named by file, sweep and config key), its sweeps' protocols become the
shards' settings, and the names of x carry their sweep."""

import copy
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from mfnpe.recordings.stimulus import resolve
from mfnpe.stimulus.sweeps import feature_names, split_name, stimulus_names
from mfnpe.plan import shards
from mfnpe.plan.config import ConfigError, resolve_recording, validate_config
from recording_files import (DT, N_SAMPLES, REAL_ABF, shuffled_copy, write_abf, write_nwb,
                             written_sweeps)
from workflow_helpers import CONFIG_SCHEMA, ROOT, TINY, scheduled_jobs, snakemake

TINY_RECORDING = ROOT / "tests" / "configs" / "tiny_recording.yaml"

FEATURES = ["spike_count", "stim_mean"]


def recording_config(**stimulus):
    """A validated config whose stimulus is the real ABF's sweeps (``stimulus`` overrides)."""
    return validate_config({"stimulus": {"recording": str(REAL_ABF), "sweeps": [2, 4],
                                         "window_ms": [0.0, 700.0], **stimulus},
                            "features": FEATURES}, CONFIG_SCHEMA)


def resolved(config, paths=()):
    resolve_recording(config, list(paths), resolve)
    return config


def test_the_chosen_sweeps_protocols_are_the_shards_stimulus():
    config = resolved(recording_config())
    stimulus = shards.simulation_settings(config, "hf")["stimulus"]
    assert stimulus == {"protocols": [
        {"sweep": 2, "duration": 700.0, "holding": 0.0, "epochs": [[146.85, 500.0, 100.0]]},
        {"sweep": 4, "duration": 700.0, "holding": 0.0, "epochs": [[146.85, 500.0, 300.0]]}]}
    assert stimulus_names(config) == ["spike_count@2", "stim_mean@2", "spike_count@4",
                                      "stim_mean@4"]
    by_amplitude = resolved(recording_config(sweeps=None, amplitudes_pA=[300.0, 100.0]))
    assert [p["sweep"] for p in by_amplitude["stimulus"]["protocols"]] == [4, 2]
    # another window is other shard settings (Snakemake re-runs the shards)
    other = resolved(recording_config(window_ms=[0.0, 600.0]))
    assert shards.shard_settings(other, "hf", 0) != shards.shard_settings(config, "hf", 0)


def test_the_step_stimulus_keeps_its_settings_and_plain_names():
    config = validate_config({"features": FEATURES}, CONFIG_SCHEMA)
    before = copy.deepcopy(shards.simulation_settings(config, "lf"))
    resolve_recording(config, [], resolve)
    assert shards.simulation_settings(config, "lf") == before
    assert before["stimulus"] == {"duration": 120.0, "t_on": 10.0, "t_off": 110.0}
    assert stimulus_names(config) == FEATURES


def test_feature_names_carry_their_sweep():
    assert feature_names(FEATURES, [5, 7]) == ["spike_count@5", "stim_mean@5",
                                              "spike_count@7", "stim_mean@7"]
    assert feature_names(FEATURES) == FEATURES
    assert split_name("isi_cv@12") == ("isi_cv", 12) and split_name("isi_cv") == ("isi_cv", None)


def refused(config, *words, paths=()):
    with pytest.raises(ConfigError) as caught:
        resolved(config, paths)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    return str(caught.value)


def test_a_missing_file_is_refused_before_any_job(tmp_path):
    with pytest.raises(ConfigError, match=r"config key stimulus/recording=.*missing\.abf.*"
                                          r"file does not exist"):
        recording_config(recording=str(tmp_path / "missing.abf"))
    with pytest.raises(ConfigError, match="stimulus/recording.*not an ABF"):
        recording_config(recording=str(tmp_path / "cell.h5"))


def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.abf"
    path.write_bytes(b"not an abf file at all" * 100)
    refused(recording_config(recording=str(path)), "config key stimulus/recording", str(path))


def test_a_voltage_clamp_file_is_refused(tmp_path):
    _, command = written_sweeps(1)
    path = write_abf(tmp_path / "vc.abf", [command], ["pA"])
    refused(recording_config(recording=str(path), sweeps=[0], window_ms=None),
            "config key stimulus/recording", str(path), "voltage-clamp")


def test_a_sweep_out_of_range_is_refused_naming_its_key():
    refused(recording_config(sweeps=[2, 22]), "config key stimulus/sweeps/1=22", str(REAL_ABF),
            "out of range", "22 sweeps")
    refused(recording_config(sweeps=None, amplitudes_pA=[150.0]),
            "config key stimulus/amplitudes_pA/0=150", "no current-clamp sweep", "150 pA",
            "epochs are at -100, 100, 200, 300, ", ", 1900, 2000 pA")


def test_a_command_that_is_not_piecewise_constant_is_refused(tmp_path):
    voltage, _ = written_sweeps(1)
    ramp = -31.25 + np.clip(np.arange(N_SAMPLES) * DT - 20.0, 0.0, None) * 2.0
    path = write_nwb(tmp_path / "ramp.nwb", [{"voltage": voltage[0], "command": ramp}])
    refused(recording_config(recording=str(path), sweeps=[0], window_ms=None),
            "config key stimulus/sweeps/0=0", str(path), "sweep 0", "not piecewise constant")


def test_sampling_below_10_khz_is_refused(tmp_path):
    voltage, command = written_sweeps(1)
    path = write_abf(tmp_path / "slow.abf", [voltage[:, ::4], command[:, ::4]], ["mV", "pA"],
                     rate=5000.0)
    refused(recording_config(recording=str(path), sweeps=[0], window_ms=None),
            "config key stimulus/sweeps/0=0", str(path), "sweep 0", "5000 Hz")


def test_a_window_outside_the_sweep_or_without_an_epoch_is_refused():
    refused(recording_config(window_ms=[0.0, 4000.0]), "config key stimulus/window_ms",
            "sweep 2", "not inside the 3000 ms sweep")
    refused(recording_config(window_ms=[0.0, 100.0]), "config key stimulus/window_ms",
            "sweep 2", "no epoch")
    with pytest.raises(ConfigError, match="stimulus/window_ms.*start < stop"):
        recording_config(window_ms=[300.0, 100.0])
    with pytest.raises(ConfigError, match="stimulus/window_ms/1=700.005 is not a multiple"):
        recording_config(window_ms=[0.0, 700.005])


def test_the_recording_keys_are_checked_against_each_other():
    with pytest.raises(ConfigError, match="stimulus/sweeps: .*give exactly one"):
        recording_config(amplitudes_pA=[100.0])
    with pytest.raises(ConfigError, match="stimulus/sweeps: .*give exactly one"):
        recording_config(sweeps=None)
    with pytest.raises(ConfigError, match="stimulus/window_ms: only used with stimulus/recording"):
        validate_config({"stimulus": {"window_ms": [0.0, 100.0]}}, CONFIG_SCHEMA)
    with pytest.raises(ConfigError, match="prior/amplitude: under a recording stimulus"):
        validate_config({"stimulus": {"recording": str(REAL_ABF), "sweeps": [2]},
                         "prior": {"gNa": [50.0, 200.0], "amplitude": [1.0, 10.0]}}, CONFIG_SCHEMA)


def test_an_error_names_the_config_file_that_set_the_key(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("stimulus: {sweeps: [2, 30]}\n")
    message = refused(recording_config(sweeps=[2, 30]), "config key stimulus/sweeps/1=30",
                      paths=[overlay])
    assert message.startswith(f"{overlay}: ")


def nwb_with_nan(path, nan_at_ms: float):
    """An NWB file of one current-clamp sweep (200 ms at 20 kHz, 200 pA on [20, 70) ms)
    whose voltage holds 10 NaN samples from ``nan_at_ms`` [ms]."""
    time_ms = np.arange(N_SAMPLES) * DT
    voltage = np.full(N_SAMPLES, -65.0)
    first = round(nan_at_ms / DT)
    voltage[first:first + 10] = np.nan
    command = np.where((time_ms >= 20.0) & (time_ms < 70.0), 200.0, 0.0)
    return write_nwb(path, [{"voltage": voltage, "command": command}])  # at 20 kHz


def test_a_nan_in_the_observed_window_is_refused_at_startup(tmp_path):
    path = nwb_with_nan(tmp_path / "nan.nwb", nan_at_ms=150.0)
    refused(recording_config(recording=str(path), sweeps=[0], window_ms=[0.0, 200.0]),
            "config key stimulus/sweeps/0=0", str(path), "sweep 0", "10 NaN", "voltage",
            "t = 150 ms", "NonFiniteSamplesError")
    # outside the window the samples are never observed: not read, not refused
    assert resolved(recording_config(recording=str(path), sweeps=[0], window_ms=[0.0, 100.0]))


@pytest.mark.workflow
def test_snakemake_refuses_a_nan_in_the_window_before_any_job(tmp_path):
    path = nwb_with_nan(tmp_path / "nan.nwb", nan_at_ms=150.0)
    overlay = tmp_path / "nan.yaml"
    overlay.write_text(f"stimulus: {{recording: {path}, sweeps: [0], window_ms: [0.0, 200.0]}}\n")
    run = snakemake(tmp_path / "work", "-n", configfile=[TINY, TINY_RECORDING, overlay])
    console = run.stdout + run.stderr
    assert run.returncode != 0
    for word in (f"{overlay}: config key stimulus/sweeps/0=0", str(path), "sweep 0", "NaN",
                 "NonFiniteSamplesError"):
        assert word in console, console[-3000:]
    assert not (tmp_path / "work" / "results").exists()


# ---- end to end: tests/configs/tiny_recording.yaml through Snakemake (about 2-3 min) ----

TARGETS = ("results/summary/observations.csv",
           "results/figures/observations/171116sh_0019_ppc.png")
"""Every shard, model, observation and one predictive-check figure (the test-set
evaluation and its figures are the step's, tested by test_workflow.py)."""


def workdir_with_the_abf(path):
    """A working directory where the config's relative recording path finds the ABF."""
    folder = path / "tests" / "data" / "recordings"
    folder.mkdir(parents=True)
    os.symlink(REAL_ABF, folder / REAL_ABF.name)
    return path


@pytest.fixture(scope="module")
def recording_workflow(tmp_path_factory):
    """The run's working directory and its console (stdout and stderr)."""
    workdir = workdir_with_the_abf(tmp_path_factory.mktemp("recording"))
    run = snakemake(workdir, "--cores", "1", *TARGETS, configfile=[TINY, TINY_RECORDING])
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir, run.stdout + run.stderr


@pytest.fixture(scope="module")
def recording_run(recording_workflow):
    return recording_workflow[0]


def tiny_recording_config(workdir):
    from mfnpe.plan.config import read_yaml, replace_sets
    config = read_yaml(TINY)
    for section, values in read_yaml(TINY_RECORDING).items():
        config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) \
            else values
    replace_sets(config, [TINY_RECORDING])
    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        return resolved(validate_config(config, CONFIG_SCHEMA))
    finally:
        os.chdir(cwd)


@pytest.mark.workflow
def test_the_workflow_simulates_and_observes_the_recordings_sweeps(recording_run):
    from mfnpe.io.shards import read_sim_shard
    from mfnpe.observation.posterior import read_observation, read_predictive
    from mfnpe.observation.observed import observed_features
    from mfnpe.recordings.sweeps import read_observed
    from mfnpe.plan import observations
    config = tiny_recording_config(recording_run)
    names = stimulus_names(config)
    assert names[:2] == ["spike_count@3", "rest_mean@3"] and names[10] == "spike_count@4"
    for pool in shards.POOLS:
        shard = read_sim_shard(recording_run / f"results/sims/{pool}/shard-0.h5",
                               expected_settings=shards.shard_settings(config, pool, 0))
        assert shard.feature_names == names and shard.x.shape[1] == 20
        assert shard.valid.mean() > 0.9
        assert shard.settings["stimulus"]["protocols"][1] == {
            "sweep": 4, "duration": 150.0, "holding": 0.0, "epochs": [[46.85, 103.15, 300.0]]}
    test = read_sim_shard(recording_run / "results/sims/test/shard-0.h5")
    assert test.traces.shape == (20, 2 * 1500)  # both 150 ms sweeps every 0.1 ms
    table = pd.read_csv(recording_run / "results/summary/observations.csv")
    assert set(table["recording"]) == {"171116sh_0019", "tiny-rec"}
    posterior = read_observation(recording_run / "results/observations/171116sh_0019/posterior.h5")
    assert posterior.feature_names == names
    cell = read_observed(REAL_ABF, observations.protocol(config))
    np.testing.assert_allclose(posterior.x, observed_features(cell, config["features"],
                                                              observations.protocol(config)))
    assert posterior.x[names.index("spike_count@4")] == 3  # the 300 pA step in [100, 250) ms
    check = read_predictive(recording_run / "results/observations/171116sh_0019/ppc.h5")
    assert check.trace.shape == (3000,) and check.sets["npe"].traces.shape == (4, 3000)
    assert (recording_run / TARGETS[1]).stat().st_size > 0


@pytest.mark.workflow
def test_every_recording_has_a_measure_of_fit_in_the_table_and_the_console(recording_workflow):
    from mfnpe.observation.fit import MAP_SIMULATIONS
    from mfnpe.observation.posterior import read_predictive
    workdir, console = recording_workflow
    table = pd.read_csv(workdir / "results/summary/observations.csv")
    recordings = {"171116sh_0019", "tiny-rec"}
    fitted = table.dropna(subset=["fit_spikes_worst"])  # the predictive-check models
    assert sorted(zip(fitted["recording"], fitted["method"])) == sorted(
        (name, method) for name in recordings for method in ("mf_npe", "npe"))
    assert (fitted["fit_n"] == 10).all() and (fitted["fit_map_n"] == MAP_SIMULATIONS).all()
    fractions = [f"{prefix}_{name}@{sweep}" for prefix in ("fit", "fit_map")
                 for name in ("spikes", "all", "silent", "blocked", "prestim")
                 for sweep in (3, 4)]
    fractions += [f"fit_within_{name}@{sweep}" for name in ("rest_mean", "spike_count")
                  for sweep in (3, 4)]
    fractions += ["fit_invalid", "fit_map_invalid", "fit_spikes_worst", "fit_map_all_worst"]
    for name in fractions:
        values = fitted[name].dropna()
        assert values.between(0, 1).all(), (name, values)
    for sweep in (3, 4):
        assert fitted[f"fit_spikes@{sweep}"].notna().all()
        assert fitted[f"fit_blocked@{sweep}"].notna().all()  # the traces were measured
        fires = fitted[f"recorded_spikes@{sweep}"] > 0  # silent is NaN only where it is silent
        assert fitted[f"fit_silent@{sweep}"].notna().equals(fires)
        assert table[f"recorded_blocked@{sweep}"].isin([0.0, 1.0]).all()
    assert np.allclose(fitted["fit_spikes_worst"],
                       fitted[["fit_spikes@3", "fit_spikes@4"]].min(axis=1))
    # the cell: 3 spikes in the 300 pA sweep (@4), in the table as in its features
    assert (table.loc[table["recording"] == "171116sh_0019", "recorded_spikes@4"] == 3).all()
    check = read_predictive(workdir / "results/observations/171116sh_0019/ppc.h5")
    assert check.map_sets["mf_npe"].x.shape == (MAP_SIMULATIONS, 20)
    assert check.sets["mf_npe"].measures.late_mean.shape == (10, 2)
    # printed at the end of the run: one line per recording, its verdict and its fit
    lines = console[console.index("Recordings: misspecification verdict"):].splitlines()[1:]
    for name in recordings:
        (line,) = [line for line in lines if line.startswith(f"  {name}: ")]
        assert "(p = " in line and ("typical" in line or "ATYPICAL" in line)
        assert "MF-NPE worst sweep: " in line and " within ±20 % spikes" in line, line


@pytest.mark.workflow
def test_a_finished_run_is_up_to_date_and_a_new_window_re_simulates(recording_run, tmp_path):
    run = snakemake(recording_run, "-n", *TARGETS, configfile=[TINY, TINY_RECORDING])
    assert run.returncode == 0 and scheduled_jobs(run.stdout) == {}, run.stdout[-3000:]
    overlay = tmp_path / "window.yaml"
    overlay.write_text("stimulus: {window_ms: [100.0, 260.0]}\n")
    run = snakemake(recording_run, "-n", *TARGETS, configfile=[TINY, TINY_RECORDING, overlay])
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = scheduled_jobs(run.stdout)
    assert jobs["simulate"] == 3 and jobs["example_recording"] == 1 and jobs["observe"] == 2


@pytest.mark.workflow
@pytest.mark.parametrize("name", ["recording.yaml", "recording_171116sh_0019.yaml"])
def test_the_shipped_recording_configs_plan(tmp_path, name):
    """Each shipped recording config over the default: a dry run plans every job (not run
    here); the recommended one (recording.yaml) plans its LF-TSNPE and MF-TSNPE rounds."""
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    workdir = tmp_path
    folder = workdir / "tests" / "data" / "recordings"
    folder.mkdir(parents=True)
    source = ROOT / config["stimulus"]["recording"]
    os.symlink(source, folder / source.name)
    run = snakemake(workdir, "-n", configfile=[ROOT / "config" / "config.yaml",
                                               ROOT / "config" / name])
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = scheduled_jobs(run.stdout)
    assert jobs["simulate"] > 0
    if "sequential" in config:
        assert jobs["observe"] >= 1
        assert sum(n for job, n in jobs.items() if job.startswith("sequential")) > 0, jobs
    else:
        assert jobs["observe"] == 2


@pytest.mark.workflow
def test_a_bad_sweep_stops_the_workflow_before_any_job(tmp_path):
    workdir = workdir_with_the_abf(tmp_path)
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("stimulus: {sweeps: [3, 40]}\n")
    run = snakemake(workdir, "--cores", "1", configfile=[TINY, TINY_RECORDING, overlay])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{overlay}: config key stimulus/sweeps/1=40: " in output
    assert "171116sh_0019.abf: sweep index 40 out of range" in output
    assert not (workdir / "results").exists()  # no job ran


@pytest.mark.workflow
def test_further_cells_reuse_the_networks_and_get_a_row_and_a_panel_each(recording_run,
                                                                          tmp_path):
    """Two further cells of the same protocol on top of the finished run: a copy of the ABF
    under another name and an NWB file of its two sweeps in the other order (found by
    amplitude). Only their observation jobs, the tables and the population figure run (no
    simulation, no training); cells.csv has one row per cell, the copy's posterior is the
    ABF's (same network, same features), the NWB's features are the ABF's."""

    workdir = tmp_path / "run"
    shutil.copytree(recording_run, workdir, symlinks=True)
    more = workdir / "more"
    more.mkdir()
    shutil.copy(REAL_ABF, more / "twin.abf")
    shuffled_copy(REAL_ABF, more / "swapped.nwb", [4, 3])
    overlay = tmp_path / "cells.yaml"
    overlay.write_text("stimulus: {sweeps: null, amplitudes_pA: [200, 300], "
                       "cells: [more/twin.abf, more/*.nwb]}\n")
    targets = (*TARGETS, "results/summary/cells.csv", "results/figures/cells.png")
    plan = snakemake(workdir, "-n", *targets, configfile=[TINY, TINY_RECORDING, overlay])
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = scheduled_jobs(plan.stdout)
    assert jobs.get("observe") == 2 and jobs.get("predictive_check") == 2, jobs
    assert not {"simulate", "train", "sample_prior", "example_recording"} & set(jobs), jobs
    assert jobs.get("cells_summary") == 1 and jobs.get("figure_cells") == 1
    run = snakemake(workdir, "--cores", "1", *targets, configfile=[TINY, TINY_RECORDING, overlay])
    assert run.returncode == 0, run.stderr[-4000:]

    cells = pd.read_csv(workdir / "results/summary/cells.csv")
    assert list(cells["recording"]) == ["171116sh_0019", "swapped", "tiny-rec", "twin"]
    assert (cells["method"] == "mf_npe").all()
    table = pd.read_csv(workdir / "results/summary/observations.csv")
    for _, row in cells.iterrows():  # the MF-NPE row of observations.csv, same numbers
        mine = table[(table["recording"] == row["recording"]) & (table["method"] == "mf_npe")]
        assert np.isclose(mine["mean_gNa"].iloc[0], row["mean_gNa"])
        assert row["q05_gNa"] <= row["q50_gNa"] <= row["q95_gNa"]
        assert mine["misspecification_p"].iloc[0] == row["misspecification_p"]
    by_name = cells.set_index("recording")
    # the example knows its theta; the files have passive cards only where a pulse exists
    assert by_name.loc["tiny-rec", "true_gNa"] == 120.0
    assert np.isnan(by_name.loc["twin", "true_gNa"])
    from mfnpe.observation.posterior import read_observation
    posterior = {name: read_observation(workdir / f"results/observations/{name}/posterior.h5")
                 for name in ("171116sh_0019", "twin", "swapped")}
    np.testing.assert_array_equal(posterior["twin"].x, posterior["171116sh_0019"].x)
    np.testing.assert_allclose(posterior["swapped"].x, posterior["171116sh_0019"].x,
                               rtol=1e-5, atol=1e-3)  # float32 NWB samples
    assert abs(by_name.loc["twin", "mean_gNa"] - by_name.loc["171116sh_0019", "mean_gNa"]) < (
        0.5 * by_name.loc["171116sh_0019", "sd_gNa"])
    assert (workdir / "results/figures/cells.png").stat().st_size > 0
