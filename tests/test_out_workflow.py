"""A second experiment in one checkout: after the tiny run, the neuron model from a user's
file (tests/configs/tiny_model_file.yaml: tests/models/hh_a_current.py, HH with an A-type
K⁺ current) in its own output folder (config key ``out``). Neither experiment touches the
other's files; the file model goes through every stage; the end of the run says what it
found; an output folder inside another run's is refused before any job. One run serves
both concerns (the second experiment costs a whole tiny run)."""

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_helpers import ROOT, TINY, scheduled_jobs, snakemake

SECOND = "second-run"
MODEL_FILE = "tests/models/hh_a_current.py"  # relative to the working directory
TINY_MODEL_FILE = ROOT / "tests" / "configs" / "tiny_model_file.yaml"
SECOND_CONFIG = [TINY, TINY_MODEL_FILE]


def files_with_times(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its SHA-256 and modification time [ns]."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(),
                                            path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def second_run(tiny_run, tmp_path_factory):
    """(working directory, the first run's files before, the second run's process): a copy
    of the tiny run with the file model's experiment run in it into ``SECOND``."""
    workdir = tmp_path_factory.mktemp("second") / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    (workdir / MODEL_FILE).parent.mkdir(parents=True)
    shutil.copy(ROOT / MODEL_FILE, workdir / MODEL_FILE)  # the user's own file, editable
    before = files_with_times(workdir / "results")
    run = snakemake(workdir, "--cores", "2", "--config", f"out={SECOND}",
                    configfile=SECOND_CONFIG)
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir, before, run


@pytest.mark.workflow
def test_two_output_folders_in_one_checkout_leave_each_other_untouched(second_run):
    workdir, before, run = second_run
    first, second = workdir / "results", workdir / SECOND
    assert "summary/observations.csv" in before and "report.rst" in before
    assert files_with_times(first) == before  # byte-identical, not rewritten
    assert {path.name for path in workdir.iterdir()} == {"results", SECOND, ".snakemake",
                                                         "tests"}
    assert yaml.safe_load((second / "config.yaml").read_text())["out"] == SECOND
    assert sorted(p.name for p in (second / "models" / "npe").iterdir()) == [
        "nlf-0_nhf-20_seed-0.pt"]
    output = run.stdout + run.stderr
    # the startup line names each config file once
    assert f"config: {TINY}, {TINY_MODEL_FILE} -> {SECOND}/config.yaml" in output
    # the end of the run: every recording's verdict, fit and figures, under the second folder
    assert f"(per model and sweep: {SECOND}/summary/observations.csv):" in output
    for name in ("tiny-1", "tiny-2"):
        assert f"\n  {name}: " in output and "MF-NPE worst sweep" in output
        assert f"figures: {SECOND}/figures/observations/{name}_pairplot.png, " in output
    page = (second / "report.rst").read_text()
    assert page.startswith("**What this run found.**") and f"``{SECOND}/figures" in page

    after = files_with_times(second)
    again = snakemake(workdir, "--cores", "1")  # the first experiment: nothing to do
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    assert files_with_times(second) == after
    assert files_with_times(first) == before


@pytest.mark.workflow
def test_an_output_folder_inside_another_runs_is_refused_before_any_job(second_run):
    workdir, before, _ = second_run
    refused = snakemake(workdir, "-n", "--config", "out=results/inner",
                        configfile=SECOND_CONFIG)
    assert refused.returncode != 0
    assert "config key out='results/inner'" in refused.stderr + refused.stdout
    assert "the output folder of another run" in refused.stderr + refused.stdout
    assert not (workdir / "results" / "inner").exists()
    assert files_with_times(workdir / "results") == before


@pytest.mark.workflow
def test_the_workflow_runs_a_model_from_a_file(second_run):
    """Every stage ran the file model: shards hold the model's reference and its A
    conductance, the NLTP table and the observations are complete; editing the model file
    re-runs its simulations (a dry run, which changes nothing)."""
    workdir, _, _ = second_run
    second = workdir / SECOND
    table = pd.read_csv(second / "summary" / "table.csv")
    assert len(table) and np.isfinite(table["mean"]).all()  # one seed: no interval
    observations = pd.read_csv(second / "summary" / "observations.csv")
    assert set(observations["recording"]) >= {"tiny-1", "tiny-2"}
    assert np.isfinite(observations["mean_gA"]).all()
    for pool in ("lf", "hf", "test"):
        with h5py.File(second / "sims" / pool / "shard-0.h5") as shard:
            settings = json.loads(shard.attrs["settings"])
            theta_names = json.loads(shard.attrs["param_names"])
        assert settings["model"]["file"] == MODEL_FILE and "gA" in theta_names
    model_file = workdir / MODEL_FILE
    original = model_file.read_text()
    model_file.write_text(original.replace('"gL": (0.3,', '"gL": (0.31,'))
    try:
        plan = snakemake(workdir, "-n", "--config", f"out={SECOND}", configfile=SECOND_CONFIG)
    finally:
        model_file.write_text(original)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert scheduled_jobs(plan.stdout).get("simulate", 0) > 0
