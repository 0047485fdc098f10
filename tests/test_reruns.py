"""Partial re-runs: after a complete tiny run, a config edit schedules exactly the
affected jobs (``snakemake -n``), and a killed run resumes without redoing finished work."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from workflow_helpers import ROOT, SNAKEFILE, TINY, same_model, scheduled_jobs, snakemake

DOWNSTREAM = {"aggregate": 1, "cost": 1, "all": 1}
# every recording is re-observed when any model or the test set changes (it samples every
# model), and its predictive check and figures follow, and the report's first page
OBSERVATIONS = {"observe": 2, "predictive_check": 2, "figure_observation_pairplot": 2,
                "figure_observation_ppc": 2, "observation_summary": 1, "report_page": 1}


def dry_run_with(workdir: Path, tmp_path: Path, edit) -> dict[str, int]:
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # key order = column order
    run = snakemake(workdir, "-n", "--cores", "1", configfile=path)
    assert run.returncode == 0, run.stderr[-3000:]
    return scheduled_jobs(run.stdout + run.stderr)


def test_unchanged_config_schedules_nothing(copied_run, tmp_path):
    assert dry_run_with(copied_run, tmp_path, lambda config: None) == {}


def test_evaluation_setting_reruns_evaluation_aggregation_and_figures_only(copied_run, tmp_path):
    def edit(config):
        config["evaluation"]["posterior_samples"] = 120

    assert dry_run_with(copied_run, tmp_path, edit) == {
        "evaluate": 10, "figure_nltp": 1, "figure_pairplot": 2, "figure_calibration": 2,
        "figure_cost": 1,  # the cost to reach each NLTP uses the metrics
        **OBSERVATIONS, **DOWNSTREAM}


def test_hf_budget_inside_the_pool_trains_only_the_new_models(copied_run, tmp_path):
    def edit(config):
        config["budgets"]["n_hf"] = [20, 30, 40]

    assert dry_run_with(copied_run, tmp_path, edit) == {
        "finetune": 2, "npe": 2, "evaluate": 4, "figure_nltp": 1, "figure_cost": 1,
        **OBSERVATIONS, **DOWNSTREAM}


def test_hf_budget_beyond_the_pool_adds_only_new_hf_shards_and_models(copied_run, tmp_path):
    def edit(config):
        config["budgets"]["n_hf"] = [20, 40, 60]

    assert dry_run_with(copied_run, tmp_path, edit) == {
        "sample_prior": 1, "simulate": 1, "finetune": 2, "npe": 2, "evaluate": 4,
        "figure_nltp": 1, "figure_cost": 1,
        "figure_calibration": 1,  # the new largest budget
        **OBSERVATIONS, **DOWNSTREAM}


def test_lf_simulator_setting_reruns_lf_side_only(copied_run, tmp_path):
    def edit(config):
        config["simulators"]["lf"]["dt"] = 0.05

    assert dry_run_with(copied_run, tmp_path, edit) == {
        "simulate": 2,  # the two LF shards; no HF or test shard
        "lf_traces": 1, "pretrain": 2, "finetune": 4,  # no npe model
        "evaluate": 6,  # lf_npe and mf_npe models only
        "figure_nltp": 1, "figure_pairplot": 2, "figure_traces": 1, "figure_cost": 1,
        "figure_calibration": 2, **OBSERVATIONS, **DOWNSTREAM}


def test_hf_simulator_setting_reruns_hf_side_and_every_model_using_it(copied_run, tmp_path):
    def edit(config):
        config["simulators"]["hf"]["name"] = "binomial"

    assert dry_run_with(copied_run, tmp_path, edit) == {
        "simulate": 4,  # two HF and two test shards; no LF shard
        "finetune": 4, "npe": 4,  # no pretraining
        "evaluate": 10,  # the test set changed: every model, lf_npe too
        "example_recording": 2,  # the tiny config's synthetic recordings are HF simulations
        "figure_nltp": 1, "figure_pairplot": 2, "figure_traces": 1, "figure_cost": 1,
        "figure_calibration": 2, **OBSERVATIONS, **DOWNSTREAM}


def completed_files(workdir: Path) -> dict[Path, int]:
    """Every result file with its modification time [ns]."""
    return {path: path.stat().st_mtime_ns for path in (workdir / "results").rglob("*")
            if path.is_file() and "/logs/" not in str(path) and "/benchmarks/" not in str(path)}


def test_a_killed_run_resumes_and_recomputes_nothing_complete(copied_run, tiny_run):
    """``kill -9`` of a run mid-way through a pretraining (in a copy of the tiny run without
    that model): no half-written model; the resumed run plans and runs that job alone, and
    its model equals the uninterrupted run's."""
    name = "results/models/lf_npe/nlf-400_nhf-0_seed-0.pt"
    model, pretrain_log = copied_run / name, copied_run / "results/logs/pretrain/nlf-400_seed-0.log"
    model.unlink()
    pretrain_log.unlink()
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile",
               str(TINY), "-d", str(copied_run), "--cores", "1", name]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    # the training script logs its data and seed, then trains (epoch lines come at the end)
    while not (pretrain_log.exists() and "training seed" in pretrain_log.read_text()):
        assert process.poll() is None and time.time() < deadline, "pretraining never started"
        time.sleep(0.2)
    time.sleep(1.0)  # inside the training loop
    os.killpg(process.pid, signal.SIGKILL)  # the whole run dies mid-way through pretraining
    process.wait()
    assert not model.exists()  # writes are atomic: no half-written model
    before = completed_files(copied_run)

    unlock = snakemake(copied_run, "--unlock", "--cores", "1")  # the killed run held the lock
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    plan = snakemake(copied_run, "-n", "--rerun-incomplete", "--cores", "1", "--printshellcmds",
                     name)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert scheduled_jobs(plan.stdout + plan.stderr) == {"pretrain": 1}
    assert re.findall(r"output: (.+)", plan.stdout + plan.stderr) == [name]

    resumed = snakemake(copied_run, "--rerun-incomplete", "--cores", "1", name)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {path: completed_files(copied_run)[path] for path in before} == before
    assert same_model(model, tiny_run / name)
