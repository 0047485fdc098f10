"""Config files as a user writes them: overlays that shorten a set, YAML faults named by
file and line, counts and bounds refused before any job runs."""

import copy

import h5py
import json
import pytest
import yaml

from mfnpe.plan.config import (ConfigError, read_yaml, replace_sets, snakemake_merge,
                               validate_config, validate_files)
from workflow_helpers import ROOT, TINY, snakemake

DEFAULT = ROOT / "config" / "config.yaml"


def merged(*paths):
    """What Snakemake's merge gives: mappings merged key by key, other values replaced."""
    return snakemake_merge(paths)


def test_an_overlay_prior_replaces_the_default_prior(tmp_path):
    overlay = tmp_path / "my.yaml"
    overlay.write_text("prior:\n  gNa: [60.0, 180.0]\n  gK: [20.0, 100.0]\n"
                       "observations:\n  examples: {}\n")
    config = merged(DEFAULT, overlay)
    assert list(config["prior"]) == ["gNa", "gK", "gL"]  # Snakemake's merge keeps gL
    replace_sets(config, [overlay])
    config = validate_config(config)
    assert config["prior"] == {"gNa": [60.0, 180.0], "gK": [20.0, 100.0]}
    assert config["observations"]["examples"] == {}


def test_an_overlay_model_replaces_the_default_model(tmp_path):
    overlay = tmp_path / "cortical.yaml"
    overlay.write_text("model: {name: pospischil_rs, amplitude: 5.0}\n"
                       "prior: {gNa: [0.5, 80.0]}\nobservations: {examples: {}}\n")
    config = merged(DEFAULT, overlay)
    assert config["model"]["EK"] == -77.0  # Snakemake's merge keeps the classic value
    config = validate_config(replace_sets(config, [overlay]))
    assert config["model"]["EK"] == -90.0 and config["model"]["EL"] == -70.3
    assert config["model"]["amplitude"] == 5.0 and config["model"]["gM"] == 0.075


def test_an_overlay_without_a_set_keeps_the_default(tmp_path):
    overlay = tmp_path / "budgets.yaml"
    overlay.write_text("budgets:\n  n_hf: [50]\n")
    config = replace_sets(merged(DEFAULT, overlay), [overlay])
    assert list(config["prior"]) == ["gNa", "gK", "gL"] and len(config["observations"]["examples"]) == 3


def test_a_run_with_a_shorter_prior_simulates_only_its_parameters(tmp_path):
    overlay = tmp_path / "two.yaml"
    overlay.write_text("prior:\n  gNa: [60.0, 180.0]\n  gK: [20.0, 100.0]\n"
                       "observations:\n  examples: {}\n")
    run = snakemake(tmp_path, "results/prior/test/shard-0.h5", "--cores", "1",
                    configfile=[TINY, overlay])
    assert run.returncode == 0, run.stderr[-3000:]
    with h5py.File(tmp_path / "results/prior/test/shard-0.h5") as handle:
        assert json.loads(handle.attrs["param_names"]) == ["gNa", "gK"]
        assert handle["theta"].shape[1] == 2
    effective = yaml.safe_load((tmp_path / "results" / "config.yaml").read_text())
    assert effective["prior"] == {"gNa": [60.0, 180.0], "gK": [20.0, 100.0]}
    assert "gNa: [60.0, 180.0] mS/cm²" in run.stdout + run.stderr


def test_a_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("budgets:\n  n_hf: [50, 100\n  n_test: 20\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml, line 3, column \d+: not valid YAML"):
        read_yaml(path)


def test_a_duplicate_key_is_an_error(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("budgets:\n  n_test: 10\n  n_test: 20\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml, line 3: key 'n_test' is given twice"):
        read_yaml(path)


def test_an_error_names_the_file_that_set_the_key(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("budgets:\n  n_test: 20\n")
    second.write_text("budgets:\n  n_hf: [50, 100.5]\n")
    with pytest.raises(ConfigError, match=r"second\.yaml: config key budgets/n_hf/1"):
        validate_files(merged(DEFAULT, first, second), [DEFAULT, first, second])


@pytest.mark.parametrize("change, message", [
    ({"budgets": {"n_hf": [20.0, 40]}}, r"budgets/n_hf/0: 20\.0 is not of type 'integer'"),
    ({"inference": {"seeds": 2.0}}, r"inference/seeds: 2\.0 is not of type 'integer'"),
    ({"shards": {"hf": 20.0}}, r"shards/hf: 20\.0 is not of type 'integer'"),
    ({"budgets": {"n_hf": [2]}}, r"budgets/n_hf/0=2 is too few simulations to train on"),
    ({"budgets": {"n_test": 3}, "evaluation": {"pairplot_observations": 4}},
     r"pairplot_observations=4 is more than the 3 test simulations"),
    ({"prior": {"gNa": [-10.0, 100.0], "gK": [20.0, 100.0], "gL": [0.1, 1.0]}},
     r"prior/gNa: low bound -10\.0 is below the physical minimum 0"),
    ({"prior": {"gNa": [50.0, 200.0], "area": [0.0, 100.0]}},
     r"prior/area: low bound 0\.0 must be above 0"),
    ({"observations": {"ppc_simulations": 2000}},
     r"ppc_simulations=2000 is more than the 1000 posterior draws"),
    ({"evaluation": {"trace_examples": 60}},
     r"trace_examples=60 is more than the 50 test simulations of the first test shard"),
])
def test_bad_values_are_refused_before_work_starts(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(copy.deepcopy(change))


def test_the_smallest_trainable_budget_passes():
    assert validate_config({"budgets": {"n_hf": [3]}})["budgets"]["n_hf"] == [3]


def test_a_failed_jobs_named_fault_reaches_the_console(tmp_path):
    shard = tmp_path / "results" / "prior" / "test" / "shard-0.h5"
    shard.parent.mkdir(parents=True)
    with h5py.File(shard, "w") as handle:  # a whole HDF5 file, but not a prior shard
        handle["theta"] = [[1.0, 2.0, 3.0]]
    run = snakemake(tmp_path, "results/sims/test/shard-0.h5", "--cores", "1")
    assert run.returncode != 0
    console = run.stdout + run.stderr
    # the job's own message (file and fault), from its log, not only the log's path
    assert "ShardError: results/prior/test/shard-0.h5: " in console, console[-3000:]
    assert "kind" in console.split("ShardError: results/prior/test/shard-0.h5: ")[1][:200]
