"""Observations: which recordings the workflow finds, the HPD check against a known
Gaussian posterior, the result files and the predictive-check figure."""

import numpy as np
import pytest
import yaml
from scipy import stats

from mfnpe.plan import observations
from mfnpe.plan.config import ConfigError, validate_config
from mfnpe.observation.posterior import (PredictiveCheck, PredictiveSet, model_index, observe,
                           read_observation, read_predictive, summary_rows, write_observation,
                           write_predictive)
from mfnpe.plots.observation import predictive_check
from mfnpe.observation.predictive import predictive_simulations
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.prior import BoxPrior
from mfnpe.recordings.errors import RecordingError
from mfnpe.recordings.step import Recording, true_vector
from workflow_helpers import CONFIG_SCHEMA, TINY, snakemake

NAMES = ("a", "b")


class GaussianPosterior:
    """q(theta | x) = N(x[:2], I): the HPD level of theta is the chi2(2) CDF of its squared
    distance to the mean."""

    prior = BoxPrior(NAMES, [-50.0, -50.0], [50.0, 50.0])
    feature_names = ["f0", "f1"]

    def sample(self, x, n, seed):
        return x[:2] + np.random.default_rng(seed).standard_normal((n, 2))

    def log_prob(self, theta, x):
        return np.atleast_1d(stats.multivariate_normal(np.zeros(2)).logpdf(theta - x[:, :2]))


@pytest.mark.parametrize("mass", [0.5, 0.9, 0.99])
def test_hpd_level_of_a_known_gaussian_posterior(mass):
    r = np.sqrt(stats.chi2.ppf(mass, 2))
    x = np.array([1.0, -2.0])
    runs = [dict(method="npe", n_lf=0, n_hf=10, seed=s) for s in range(3)]
    result = observe("rec", "rec.h5", x, np.array([1.0 + r, -2.0]), [GaussianPosterior()] * 3,
                     runs, n_samples=4000, master_seed=0)
    assert result.samples.shape == (3, 4000, 2)
    assert not np.array_equal(result.samples[0], result.samples[1])  # a stream per model
    assert np.allclose(result.hpd_level, mass, atol=0.025)
    expected_log_q = -np.log(2 * np.pi) - r**2 / 2
    assert np.allclose(result.log_prob_true, expected_log_q)
    rows = summary_rows(result)
    assert [row["inside_95"] for row in rows] == [mass < 0.95] * 3
    assert rows[0]["mean_a"] == pytest.approx(1.0, abs=0.06)
    assert rows[0]["sd_b"] == pytest.approx(1.0, abs=0.05)


def test_a_true_theta_outside_the_prior_is_warned_about(caplog):
    runs = [dict(method="npe", n_lf=0, n_hf=10, seed=0)]
    with caplog.at_level("WARNING"):
        result = observe("rec", "rec.h5", np.array([1.0, -2.0]), np.array([60.0, -2.0]),
                         [GaussianPosterior()], runs, n_samples=10, master_seed=0)
    assert "rec.h5: true a = 60 is outside the prior [-50, 50]" in caplog.text
    assert result.name == "rec" and result.source == "rec.h5"
    caplog.clear()
    with caplog.at_level("WARNING"):
        observe("rec", "rec.h5", np.array([1.0, -2.0]), np.array([1.0, -2.0]),
                [GaussianPosterior()], runs, n_samples=10, master_seed=0)
    assert "outside the prior" not in caplog.text


def test_true_parameters_must_be_the_inferred_ones():
    recording = Recording("rec", np.zeros(2), np.zeros(2), 0.01, {}, {"b": 2.0, "a": 1.0},
                          "rec.h5")
    assert np.array_equal(true_vector(recording, NAMES), [1.0, 2.0])
    recording.true_theta = {"a": 1.0, "c": 2.0}
    with pytest.raises(RecordingError, match=r"rec.h5: true parameters \['a', 'c'\] are not"):
        true_vector(recording, NAMES)


def test_observation_file_round_trip_without_true_theta(tmp_path):
    runs = [dict(method="mf_npe", n_lf=100, n_hf=10, seed=0),
            dict(method="npe", n_lf=0, n_hf=10, seed=0)]
    result = observe("rec", "rec.h5", np.array([0.5, 0.5]), None, [GaussianPosterior()] * 2,
                     runs, 50, 1)
    result.settings = {"seed": 1}
    write_observation(tmp_path / "posterior.h5", result)
    back = read_observation(tmp_path / "posterior.h5", {"seed": 1})
    assert back.theta_true is None and np.isnan(back.hpd_level).all()
    assert np.array_equal(back.samples, result.samples) and back.runs == runs
    assert model_index(back, runs[1]) == 1
    assert summary_rows(back)[0]["inside_95"] is None
    with pytest.raises(KeyError, match="no posterior of model"):
        model_index(back, dict(method="npe", n_lf=0, n_hf=20, seed=0))


EXAMPLE = {"format": "csv", "theta": {"gNa": 100.0, "gK": 30.0, "gL": 0.3}}


def _config(folder, **examples):
    return validate_config({"observations": {"dir": folder, "examples": examples}}, CONFIG_SCHEMA)


def test_recordings_are_the_folder_files_and_the_examples(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "recs"
    folder.mkdir()
    for name in ("cell_1.csv", "cell-2.h5", "notes.txt", ".cell_3.h5.tmp-1"):
        (folder / name).write_text("")
    config = _config("recs/", ex=EXAMPLE)
    # the examples are simulated into the workflow's own folder, never into observations/dir
    assert observations.recordings(config) == {
        "cell-2": "recs/cell-2.h5", "cell_1": "recs/cell_1.csv", "ex": "results/recordings/ex.csv"}
    expected = observations.recordings(config)
    # odd files are skipped with a warning naming them, never blocking the workflow
    for name in ("cell_1.h5", "cell 4.csv", "zelle-ä.h5"):
        (folder / name).write_text("")
    with caplog.at_level("WARNING"):
        assert observations.recordings(config) == expected
    assert "recs/cell_1.h5: skipped: recs/cell_1.csv is also named 'cell_1'" in caplog.text
    assert "recs/cell 4.csv: skipped: a recording's file name may hold only" in caplog.text
    assert "recs/zelle-ä.h5: skipped" in caplog.text
    # no folder at all: the examples only
    assert observations.recordings(_config(None, ex=EXAMPLE)) == {"ex": "results/recordings/ex.csv"}


def test_a_recordings_folder_elsewhere_is_read_where_it_is(tmp_path, monkeypatch):
    """People keep data elsewhere: an absolute path or one through .. is fine (only read)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "cell_1.h5").write_text("")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert observations.recordings(_config(str(data), ex=EXAMPLE)) == {
        "cell_1": f"{data}/cell_1.h5", "ex": "results/recordings/ex.csv"}
    assert observations.recordings(_config("../data")) == {"cell_1": "../data/cell_1.h5"}


def test_a_recording_with_an_examples_name_is_an_error_and_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recs").mkdir()
    mine = tmp_path / "recs" / "ex.h5"
    mine.write_bytes(b"my own recording")
    before = mine.stat().st_mtime_ns
    config = _config("recs", ex=EXAMPLE)
    with pytest.raises(ConfigError, match=r"^config key observations/examples/ex: recs/ex.h5 in "
                       r"observations/dir has the name of this synthetic example \(simulated "
                       r"into results/recordings/ex.csv\); both would be "
                       r"results/observations/ex/: rename the example or the file$"):
        observations.recordings(config)
    assert mine.read_bytes() == b"my own recording" and mine.stat().st_mtime_ns == before
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("kind, message", [
    ("missing", (r"config key observations/dir='recs': no such folder \(a relative path is "
                 r"relative to the working directory .*\); create it, or set observations/dir: "
                 r"null to observe the examples only")),
    ("file", r"config key observations/dir='recs': is a file, not a folder of recordings"),
    ("results", (r"config key observations/dir='results/recs': lies inside results/, which "
                 r"the workflow owns")),
    ("results_absolute", r"config key observations/dir='/.*/results': lies inside results/"),
])
def test_a_bad_recordings_folder_is_a_named_config_error(kind, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = {"missing": "recs", "file": "recs", "results": "results/recs",
              "results_absolute": str(tmp_path / "results")}[kind]
    if kind == "file":
        (tmp_path / "recs").write_text("")
    elif kind.startswith("results"):
        (tmp_path / "results" / "recs").mkdir(parents=True)
    with pytest.raises(ConfigError, match=message):
        observations.recordings(_config(folder))


def test_braces_in_the_recordings_folder_are_a_named_config_error():
    with pytest.raises(ConfigError, match=r"config key observations/dir='data/\{cell\}': braces "
                       r"are not allowed in the recordings folder's path"):
        _config("data/{cell}")


def _workflow(tmp_path, folder, *args):
    """Snakemake on the tiny config with one example, ex-1, and recordings folder ``folder``,
    in the working directory tmp_path/work."""
    overlay = tmp_path / "observations.yaml"
    overlay.write_text(yaml.safe_dump({"observations": {"dir": folder,
                                                        "examples": {"ex-1": EXAMPLE}}}))
    (tmp_path / "work").mkdir(exist_ok=True)
    run = snakemake(tmp_path / "work", *args, configfile=[TINY, overlay])
    return run.returncode, run.stdout + run.stderr


@pytest.mark.workflow
def test_the_workflow_reads_recordings_elsewhere_and_simulates_examples_under_results(tmp_path):
    (tmp_path / "recs").mkdir()
    mine = tmp_path / "recs" / "cell-1.csv"
    mine.write_bytes(b"my own recording")
    code, output = _workflow(tmp_path, "../recs", "-n")
    assert code == 0, output[-2000:]
    assert "output: results/recordings/ex-1.csv\n" in output  # the example: the workflow's
    assert "input: ../recs/cell-1.csv, results/models/" in output  # observe reads the user's
    assert mine.read_bytes() == b"my own recording"


@pytest.mark.workflow
def test_the_workflow_stops_before_any_job_on_a_name_clash_or_braces(tmp_path):
    (tmp_path / "recs").mkdir()
    mine = tmp_path / "recs" / "ex-1.csv"  # the very file name of the example
    mine.write_bytes(b"my own recording")
    before = mine.stat().st_mtime_ns
    code, output = _workflow(tmp_path, "../recs", "--cores", "1")  # a real run, not -n
    assert code != 0
    assert ("config key observations/examples/ex-1: ../recs/ex-1.csv in observations/dir has "
            "the name of this synthetic example") in output
    assert mine.read_bytes() == b"my own recording" and mine.stat().st_mtime_ns == before
    assert not (tmp_path / "work" / "results").exists()
    code, output = _workflow(tmp_path, "../re{c}s", "-n")
    assert code != 0 and "RuleException" not in output
    assert "observations.yaml: config key observations/dir='../re{c}s': braces are not" in output


def test_predictive_simulations_file_and_figure(tmp_path):
    config = validate_config({"stimulus": {"duration": 30.0, "t_on": 5.0, "t_off": 25.0}}, CONFIG_SCHEMA)
    experiment = ExperimentSimulation.from_dict(
        observations.predictive_settings(config)["simulation"])
    theta = np.array([[120.0, 36.0, 0.3], [90.0, 40.0, 0.5], [150.0, 30.0, 0.2]])
    run = dict(method="npe", n_lf=0, n_hf=50, seed=0)
    shard = predictive_simulations(theta, ["gNa", "gK", "gL"], experiment, 3, "rec", run)
    again = predictive_simulations(theta, ["gNa", "gK", "gL"], experiment, 3, "rec", run)
    other = predictive_simulations(theta, ["gNa", "gK", "gL"], experiment, 3, "other", run)
    assert np.array_equal(shard.x, again.x) and not np.array_equal(shard.x, other.x)
    assert shard.valid.all() and shard.traces.shape == (3, 300)  # 30 ms every 0.1 ms
    sets = {"npe": PredictiveSet(run, shard.theta, shard.x, shard.valid, shard.traces[:2])}
    check = PredictiveCheck("rec", shard.x[0], shard.traces[0], 0.1, config["features"],
                            ["gNa", "gK", "gL"], sets, {"n": 3})
    write_predictive(tmp_path / "ppc.h5", check)
    back = read_predictive(tmp_path / "ppc.h5", {"n": 3})
    assert np.array_equal(back.sets["npe"].x, shard.x) and back.sets["npe"].run == run
    assert back.sets["npe"].traces.shape == (2, 300) and back.trace_dt == 0.1

    figure = predictive_check(np.arange(300) * 0.1, back.trace, {"npe": back.sets["npe"].traces},
                              back.x, {"npe": back.sets["npe"].x}, back.feature_names, "rec",
                              window=(5.0, 25.0))
    gids = [artist.get_gid() for ax in figure.axes for artist in ax.get_children()]
    assert gids.count("trace:npe") == 2 and gids.count("trace:observed") == 1
    for name in config["features"]:  # an interval, or every draw's value a stand-in
        assert (f"interval:npe:{name}" in gids
                or [a.get_text() for ax in figure.axes for a in ax.texts
                    if a.get_gid() == f"left_out:npe:{name}"] == ["100 %\n< 3 spikes"]), name
    assert {f"observed:{name}" for name in config["features"]} <= set(gids)


# ---- a recording stimulus: its file is an observation, the folder's single steps are not ----

REAL_ABF = TINY.parents[1] / "data" / "recordings" / "171116sh_0019.abf"


def _recording_config(folder, **examples):
    from mfnpe.recordings.stimulus import resolve
    from mfnpe.plan.config import resolve_recording
    config = validate_config({"stimulus": {"recording": str(REAL_ABF), "sweeps": [3, 4],
                                           "window_ms": [100.0, 250.0]},
                              "observations": {"dir": folder, "examples": examples}}, CONFIG_SCHEMA)
    resolve_recording(config, [], resolve)
    return config


def test_the_recording_stimulus_file_is_an_observation_and_single_steps_are_skipped(
        tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recs").mkdir()
    (tmp_path / "recs" / "cell_1.csv").write_text("")
    example = {**EXAMPLE, "format": "h5"}
    with caplog.at_level("WARNING"):
        found = observations.recordings(_recording_config("recs", ex=example))
    assert found == {"171116sh_0019": str(REAL_ABF), "ex": "results/recordings/ex.h5"}
    assert "recs/cell_1.csv: skipped: a single-step recording" in caplog.text
    settings = observations.observe_settings(_recording_config(None))
    assert settings["feature_names"][:2] == ["spike_count@3", "rest_mean@3"]
    assert len(settings["feature_names"]) == 20 and settings["protocol"]["window_ms"] == [100.0, 250.0]
    # the step's observation settings are what they were (no feature_names key)
    assert "feature_names" not in observations.observe_settings(_config(None))


def test_a_recording_stimulus_refuses_csv_examples_and_name_clashes(tmp_path):
    with pytest.raises(ConfigError, match="observations/examples/ex/format=csv: under a "
                                          "recording stimulus"):
        _recording_config(None, ex=EXAMPLE)
    with pytest.raises(ConfigError, match="stimulus/recording=.*has the name of the synthetic "
                                          "example observations/examples/171116sh_0019"):
        observations.recordings(_recording_config(None, **{"171116sh_0019": {**EXAMPLE,
                                                                              "format": "h5"}}))


def test_the_predictive_check_figure_has_a_row_of_traces_per_sweep():
    rng = np.random.default_rng(0)
    t = np.arange(2 * 1500) * 0.1  # two sweeps of 150 ms every 0.1 ms, joined
    names = ["spike_count@3", "stim_mean@3", "spike_count@4", "stim_mean@4"]
    figure = predictive_check(t, -65 + rng.standard_normal(3000), {"npe": rng.normal(size=(2, 3000)),
                                                                   "mf_npe": rng.normal(size=(3, 3000))},
                              np.zeros(4), {"npe": rng.normal(size=(10, 4)),
                                            "mf_npe": rng.normal(size=(10, 4))}, names, "rec",
                              sweeps=[("sweep 3", 1500, (46.85, 150.0)),
                                      ("sweep 4", 1500, (46.85, 150.0))])
    trace_axes = [ax for ax in figure.axes
                  if any(a.get_gid() == "trace:observed" for a in ax.get_children())]
    assert len(trace_axes) == 4  # 2 sweeps x 2 methods
    titles = sorted(ax.get_title(loc="left") for ax in trace_axes)
    assert titles[0].startswith("sweep 3, ") and "2 draws" in " ".join(titles[:2])
    assert {title.split(",")[0] for title in titles} == {"sweep 3", "sweep 4"}
    for ax in trace_axes:  # each panel in sweep time
        line = next(a for a in ax.get_children() if a.get_gid() == "trace:observed")
        assert line.get_xdata()[0] == 0.0 and len(line.get_xdata()) == 1500
    gids = [a.get_gid() for ax in figure.axes for a in ax.get_children()]
    assert {f"observed:{name}" for name in names} <= set(gids)
    with pytest.raises(ValueError, match="do not add up"):
        predictive_check(t, t, {"npe": t[None]}, np.zeros(4), {"npe": np.zeros((1, 4))}, names,
                         "rec", sweeps=[("sweep 3", 1000, None)])


def test_the_misspecification_reference_is_the_lf_pool_unless_it_is_noise_free():
    from mfnpe.plan.config import validate_config

    config = validate_config({"budgets": {"n_lf": [1000, 3000], "n_hf": [50], "n_test": 200},
                              "observations": {"dir": None}}, CONFIG_SCHEMA)
    assert config["simulators"]["lf"]["name"] != "deterministic"
    reference = observations.misspecification_reference(config)
    assert (reference["pool"], reference["n"]) == ("lf", 3000)  # cut to the pool's size
    config["observations"]["misspecification_reference"]["n"] = 500
    assert observations.misspecification_reference(config)["n"] == 500
    config["simulators"]["lf"]["name"] = "deterministic"
    reference = observations.misspecification_reference(config)
    assert (reference["pool"], reference["n"]) == ("test", 200)
    config["observations"]["misspecification_reference"]["pool"] = "lf"  # asked for: kept
    assert observations.misspecification_reference(config)["pool"] == "lf"
