"""config/paper.yaml and config/cortical_cluster.yaml are valid, and their job counts in
docs/results.md are those Snakemake plans."""

import re
import shutil

import pytest
import yaml

from mfnpe.plan.config import load_config
from workflow_helpers import CONFIG_SCHEMA, ROOT, config_check_tool, scheduled_jobs, snakemake

PAPER = ROOT / "config" / "paper.yaml"
CORTICAL = [ROOT / "config" / name for name in ("config.yaml", "cortical.yaml",
                                                "cortical_cluster.yaml")]


def readme_job_counts(marker: str = "paper-jobs") -> dict[str, int]:
    """{rule: count} from the table between the ``marker`` markers of docs/results.md."""
    text = (ROOT / "docs" / "results.md").read_text()
    block = text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    return {name: int(count) for name, count in re.findall(r"^\| `(\w+)` \| (\d+) \|", block,
                                                             re.MULTILINE)}


def test_paper_config_has_the_paper_budgets():
    config = load_config(PAPER, CONFIG_SCHEMA)
    assert config["budgets"]["n_lf"] == [1000, 10000, 100000]
    assert config["budgets"]["n_hf"] == [50, 100, 200, 500, 1000, 2000, 5000, 10000]
    assert config["inference"]["seeds"] == 10
    assert config["budgets"]["n_test"] == 1000
    # everything else is the default experiment's
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    paper = yaml.safe_load(PAPER.read_text())
    for key in set(default) - {"budgets", "shards"}:
        assert paper[key] == default[key], key


@pytest.mark.workflow
def test_readme_job_counts_are_the_dry_runs(tmp_path):
    # observations.dir (resources/observations) must exist where the workflow runs
    shutil.copytree(ROOT / "resources", tmp_path / "resources")
    run = snakemake(tmp_path, "-n", configfile=PAPER)
    assert run.returncode == 0, run.stderr[-2000:]
    planned = scheduled_jobs(run.stdout + run.stderr)
    # the three synthetic examples are simulated into results/recordings/
    assert planned.pop("example_recording") == 3
    assert planned == readme_job_counts()
    assert planned["finetune"] == 3 * 8 * 10 and planned["npe"] == 8 * 10


@pytest.mark.workflow
def test_cortical_cluster_job_counts_are_the_dry_runs(tmp_path):
    merged_config = config_check_tool().merged_config
    config = merged_config(CORTICAL)
    assert config["model"]["name"] == "pospischil_rs" and config["inference"]["seeds"] == 10
    assert config["prior"] == merged_config(CORTICAL[:2])["prior"]  # the same task, larger
    run = snakemake(tmp_path, "-n", configfile=CORTICAL)
    assert run.returncode == 0, run.stderr[-2000:]
    planned = scheduled_jobs(run.stdout + run.stderr)
    assert planned == readme_job_counts("cortical-jobs")
    assert planned["finetune"] == 2 * 6 * 10 and planned["npe"] == 8 * 10
