"""Config files as a user writes them: overlays that shorten a set, YAML faults named by
file and line, counts and bounds refused before any job runs."""

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import json
import pytest
import yaml

from mfnpe.plan.config import ConfigError, read_yaml, replace_sets, validate_config, validate_files
from workflow_helpers import CONFIG_SCHEMA, ROOT, TINY, config_check_tool, job_resources, snakemake

DEFAULT = ROOT / "config" / "config.yaml"


def merged(*paths):
    """What Snakemake's merge gives (its ``update_config``, through tools/config_check.py):
    mappings merged key by key, other values replaced."""
    return config_check_tool().snakemake_merge(paths)


def test_snakemakes_merge_replaces_lists_whole_and_merges_mappings_key_by_key(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("budgets: {n_hf: [50, 100, 200], n_test: 20}\n"
                     "inference: {network: {hidden_features: 20}}\n")
    second.write_text("budgets: {n_hf: [30]}\ninference: {network: {num_bins: 6}}\n")
    config = merged(first, second)
    assert config["budgets"] == {"n_hf": [30], "n_test": 20}
    assert config["inference"]["network"] == {"hidden_features": 20, "num_bins": 6}


def test_an_overlay_prior_replaces_the_default_prior(tmp_path):
    overlay = tmp_path / "my.yaml"
    overlay.write_text("prior:\n  gNa: [60.0, 180.0]\n  gK: [20.0, 100.0]\n"
                       "observations:\n  examples: {}\n")
    config = merged(DEFAULT, overlay)
    assert list(config["prior"]) == ["gNa", "gK", "gL"]  # Snakemake's merge keeps gL
    replace_sets(config, [overlay])
    config = validate_config(config, CONFIG_SCHEMA)
    assert config["prior"] == {"gNa": [60.0, 180.0], "gK": [20.0, 100.0]}
    assert config["observations"]["examples"] == {}


def test_an_overlay_model_replaces_the_default_model(tmp_path):
    overlay = tmp_path / "cortical.yaml"
    overlay.write_text("model: {name: pospischil_rs, amplitude: 5.0}\n"
                       "prior: {gNa: [0.5, 80.0]}\nobservations: {examples: {}}\n")
    config = merged(DEFAULT, overlay)
    assert config["model"]["EK"] == -77.0  # Snakemake's merge keeps the classic value
    config = validate_config(replace_sets(config, [overlay]), CONFIG_SCHEMA)
    assert config["model"]["EK"] == -90.0 and config["model"]["EL"] == -70.3
    assert config["model"]["amplitude"] == 5.0 and config["model"]["gM"] == 0.075


def test_an_overlay_without_a_set_keeps_the_default(tmp_path):
    overlay = tmp_path / "budgets.yaml"
    overlay.write_text("budgets:\n  n_hf: [50]\n")
    config = replace_sets(merged(DEFAULT, overlay), [overlay])
    assert list(config["prior"]) == ["gNa", "gK", "gL"] and len(config["observations"]["examples"]) == 3


@pytest.mark.workflow
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
        validate_files(merged(DEFAULT, first, second), [DEFAULT, first, second], CONFIG_SCHEMA)


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
        validate_config(copy.deepcopy(change), CONFIG_SCHEMA)


def test_the_smallest_trainable_budget_passes():
    assert validate_config({"budgets": {"n_hf": [3]}}, CONFIG_SCHEMA)["budgets"]["n_hf"] == [3]


@pytest.mark.workflow
def test_a_failed_jobs_named_fault_reaches_the_console(tmp_path):
    """A whole prior shard of the right kind whose theta has a column too many (the startup
    check passes it; the simulate job's reader refuses it)."""
    from mfnpe.io.shards import write_prior_shard

    shard = tmp_path / "results" / "prior" / "test" / "shard-0.h5"
    write_prior_shard(shard, [[1.0, 2.0, 3.0]], ["gNa", "gK"], {"seed": -1})
    run = snakemake(tmp_path, "results/sims/test/shard-0.h5", "--cores", "1")
    assert run.returncode != 0
    console = run.stdout + run.stderr
    # the job's own message (file and fault), from its log, not only the log's path
    assert "ShardError: results/prior/test/shard-0.h5: theta has 3 columns for names" \
        in console, console[-3000:]


# ---- every config error names the file: tools/config_check.py, make, snakemake ----

BAD_FILES = [
    ("budgets:\n  n_hf: [50, 100\n  n_test: 20\n", r"bad\.yaml, line 3, column \d+: not valid YAML"),
    ("budgets:\n\tn_hf: [50]\n", r"bad\.yaml, line 2, column 1: not valid YAML.*never tabs"),
    ("", r"bad\.yaml: the config file is empty"),
    ("# only a comment\n", r"bad\.yaml: the config file is empty"),
    ("- budgets\n- shards\n", r"bad\.yaml, line 1: a config file must be a mapping.*got a list"),
    ("budgetz:\n  n_hf: [50]\n",
     r"bad\.yaml: config key budgetz: unknown key 'budgetz' at the top level"),
    ("budgets:\n  n_hff: [50]\n", r"bad\.yaml: config key budgets/n_hff: unknown key"),
]


def check_command(*paths):
    """``python tools/config_check.py PATHS...`` (output captured)."""
    return subprocess.run([sys.executable, str(ROOT / "tools" / "config_check.py"), *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


@pytest.mark.parametrize("text, message", BAD_FILES)
def test_the_check_command_names_the_bad_file_among_several(tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    run = check_command(DEFAULT, bad, TINY)
    assert run.returncode == 1
    assert re.search(message, run.stderr), run.stderr


def test_the_check_command_passes_good_files():
    run = check_command(DEFAULT, TINY)
    assert run.returncode == 0, run.stderr


def test_an_explicitly_empty_mapping_is_a_valid_overlay(tmp_path):
    empty = tmp_path / "nothing.yaml"
    empty.write_text("{}\n")
    assert read_yaml(empty) == {}
    assert check_command(DEFAULT, empty).returncode == 0


def make_run(tmp_path, *configs):
    """``make run CONFIG=...`` with this interpreter's environment, its install step taken
    as done and Snakemake replaced by ``true``: only the recipe's config check runs."""
    prefix = Path(sys.executable).parent.parent
    return subprocess.run(
        ["make", "-o", f"{prefix}/.installed", "run", f"VENV={prefix}",
         f"CONFIG={' '.join(map(str, configs))}", "SNAKEMAKE=true"],
        capture_output=True, text=True, cwd=ROOT, check=False)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_run_checks_every_config_file_before_snakemake(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILES[0][0])
    run = make_run(tmp_path, TINY, bad)
    assert run.returncode != 0
    assert re.search(BAD_FILES[0][1], run.stderr), run.stdout + run.stderr
    assert "Results are in" not in run.stdout  # the (stand-in) Snakemake never ran
    good = make_run(tmp_path, TINY)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Results are in" in good.stdout


@pytest.mark.workflow
def test_snakemake_names_the_file_that_gave_an_unknown_key(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("budgets:\n  n_test: 20\n")
    second.write_text("budgetz:\n  n_hf: [50]\n")
    run = snakemake(tmp_path / "work", "-n", configfile=[TINY, first, second])
    assert run.returncode != 0
    assert f"{second}: config key budgetz: unknown key 'budgetz'" in run.stdout + run.stderr
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.workflow
def test_the_configfile_statements_file_comes_before_the_command_lines(tmp_path):
    """The Snakefile's ``configfile:`` file (here present in the working directory) is
    merged first, so a fault that both it and a --configfile set is named in the latter."""
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    shutil.copy(TINY, work / "config" / "config.yaml")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("budgets:\n  n_hf: [20, 40.5]\n")
    run = snakemake(work, "-n", configfile=[overlay])
    console = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{overlay}: config key budgets/n_hf/1" in console, console[-3000:]


# ---- channel numbers and simulated time: refused or scaled before any job ----

@pytest.mark.workflow
def test_snakemake_refuses_a_fixed_area_with_no_channel_before_any_job(tmp_path):
    overlay = tmp_path / "small.yaml"
    overlay.write_text("model: {area: 0.0001}\n")
    run = snakemake(tmp_path / "work", "-n", configfile=[TINY, overlay])
    console = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{overlay}: config key model/area=0.0001: leaves neuron model 'classic' with no " \
           "Na channel" in console, console[-3000:]
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.workflow
def test_a_dry_run_warns_of_prior_draws_with_no_channel(tmp_path):
    overlay = tmp_path / "gm.yaml"
    overlay.write_text("model: {name: pospischil_rs}\nprior: {gNa: [40.0, 80.0], gM: [0.0, 0.6]}\n"
                       "observations: {examples: {}}\n")
    run = snakemake(tmp_path / "work", "-n", configfile=[TINY, overlay])
    assert run.returncode == 0, run.stderr[-3000:]
    # gM · 100 µm² · 10 / 20 pS rounds to 0 below gM = 0.01: 0.01 / 0.6 of the draws
    assert "warning: prior: 1.7% of the prior's draws leave neuron model 'pospischil_rs' " \
           "with no M channel" in run.stdout
    plain = snakemake(tmp_path / "work", "-n")
    assert plain.returncode == 0 and "no Na channel" not in plain.stdout + plain.stderr


def dry_run_resources(workdir, configfiles, *targets):
    """{(rule, wildcards): {resource: value}} of a dry run's jobs."""
    run = snakemake(workdir, "-n", *targets, configfile=configfiles)
    assert run.returncode == 0, run.stderr[-3000:]
    return job_resources(run.stdout + run.stderr)


@pytest.mark.workflow
def test_simulate_jobs_ask_for_resources_that_grow_with_the_simulated_time(tmp_path):
    from mfnpe.plan import resources

    long = tmp_path / "long.yaml"  # 20x the simulated time, 200x the HF shard
    long.write_text("stimulus: {duration: 2400.0, t_on: 10.0, t_off: 2390.0}\n"
                    "shards: {hf: 4000}\n")
    targets = ("results/sims/lf/shard-0.h5", "results/sims/hf/shard-0.h5")
    default = dry_run_resources(tmp_path / "a", [TINY], *targets)
    scaled = dry_run_resources(tmp_path / "b", [TINY, long], *targets)
    config = config_check_tool().merged_config([DEFAULT, TINY, long])
    for pool, floor_mb, floor_min in (("lf", 1500, 60), ("hf", 600, 120)):
        before, after = default["simulate", f"pool={pool}, shard=0"], \
            scaled["simulate", f"pool={pool}, shard=0"]
        assert (int(before["mem_mb"]), int(before["runtime"])) == (floor_mb, floor_min)
        assert int(after["mem_mb"]) == resources.simulate_mem_mb(config, pool)
        assert int(after["runtime"]) == resources.simulate_runtime(config, pool)
    lf, hf = scaled["simulate", "pool=lf, shard=0"], scaled["simulate", "pool=hf, shard=0"]
    assert int(lf["mem_mb"]) > 1500  # 500 simulations of 96 000 steps in memory
    assert int(hf["runtime"]) > 120  # 4000 markov simulations of 2.4 s


@pytest.mark.workflow
def test_snakemake_refuses_an_absurd_duration_before_any_job(tmp_path):
    overlay = tmp_path / "long.yaml"
    overlay.write_text("stimulus: {duration: 10000000}\n")
    run = snakemake(tmp_path / "work", "-n", configfile=[TINY, overlay])
    console = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{overlay}: config key stimulus/duration=1e+07: a simulate job of pool lf would " \
           "need about" in console, console[-3000:]
    assert "more than the ceiling of 16,000 MB" in console
    assert not (tmp_path / "work" / "results").exists()


SHIPPED_RUNS = sorted(set(re.findall(r'make run CONFIG="([^"]+)"',
                                     (ROOT / "config" / "README.md").read_text())))
"""Every ``make run CONFIG="..."`` that config/README.md gives."""


@pytest.mark.parametrize("files", SHIPPED_RUNS)
def test_every_shipped_config_combination_is_valid(files, monkeypatch):
    """The config files of each command config/README.md documents merge and validate (a
    recording's area prior from its passive card resolved); every shipped config appears."""
    monkeypatch.chdir(ROOT)  # recording paths are relative to the working directory
    config = config_check_tool().merged_config(files.split())
    for bounds in config["prior"].values():
        assert "from_recording" not in bounds


def test_every_shipped_config_is_documented():
    documented = {name for files in SHIPPED_RUNS for name in files.split()}
    documented |= set(re.findall(r"`(config/[\w.]+\.yaml)`", (ROOT / "config" / "README.md")
                                 .read_text()))
    shipped = {f"config/{path.name}" for path in (ROOT / "config").glob("*.yaml")}
    assert shipped <= documented, sorted(shipped - documented)


def test_the_recommended_recording_config_is_the_sequential_overlay_on_18711001(monkeypatch):
    """config/recording.yaml (the template users copy) merges to exactly the overlay pair the
    docs measured (config/recording_18711001.yaml, then config/recording_sequential.yaml), so
    the numbers docs/results.md gives for the pair are the template's."""
    monkeypatch.chdir(ROOT)
    merge = config_check_tool().merged_config
    template = merge(["config/config.yaml", "config/recording.yaml"])
    pair = merge(["config/config.yaml", "config/recording_18711001.yaml",
                  "config/recording_sequential.yaml"])
    assert template == pair
    assert template["sequential"]["methods"] == ["lf_tsnpe"]
    pretrain = template["inference"]["pretrain"]
    assert (pretrain["batch_size"], pretrain["learning_rate"]) == (500, 0.001)
