"""The workflow is lint-clean (`snakemake --lint`, `snakefmt --check`) and its report builds.

Snakemake runs with ``-d`` a temporary folder, so nothing is written into the checkout.
A copy of the workflow with a rule added that breaks both checks shows that they fail.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import ROOT, snakemake

CONFIG = ROOT / "config" / "config.yaml"
SNAKEFMT = Path(sys.executable).parent / "snakefmt"
# No log, benchmark, conda env or resources; indented by two: both checks must complain.
BAD_RULE = '''

rule unlogged:
  output: "results/unlogged.txt"
  shell: "touch {output}"
'''


def lint(snakefile: Path, workdir: Path) -> subprocess.CompletedProcess:
    # observations.dir (resources/observations) must exist where the workflow runs
    shutil.copytree(ROOT / "resources", workdir / "resources", dirs_exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--configfile", str(CONFIG),
         "-d", str(workdir), "--lint"],
        capture_output=True, text=True, cwd=ROOT,
    )


def snakefmt_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SNAKEFMT), "--check", str(path)], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.mark.workflow
def test_snakemake_lint_finds_nothing(tmp_path):
    run = lint(ROOT / "workflow" / "Snakefile", tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Lints for" not in output, output[-3000:]
    assert "Congratulations" in output, output[-3000:]


def test_snakefmt_leaves_the_workflow_unchanged():
    run = snakefmt_check(ROOT / "workflow")
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.workflow
def test_both_checks_fail_on_a_rule_without_log_or_formatting(tmp_path):
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("workflow", "scripts", "config", "envs"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    snakefile = copy / "workflow" / "Snakefile"
    snakefile.write_text(snakefile.read_text() + BAD_RULE)

    run = lint(snakefile, tmp_path / "work")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "Lints for rule unlogged" in output and "No log directive" in output, output[-3000:]
    assert snakefmt_check(copy / "workflow").returncode != 0


def test_report_of_the_tiny_run_has_every_figure_and_caption(tiny_run, tmp_path):
    """`snakemake --report` on a complete run (a copy: the report logs into .snakemake)."""
    workdir = shutil.copytree(tiny_run, tmp_path / "run", symlinks=True)
    report = tmp_path / "report.html"
    run = snakemake(workdir, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    html = report.read_text()
    for text in (
        "multifidelity simulation-based inference for a stochastic",  # workflow.rst
        "NLTP against HF budget",  # nltp_vs_budget.rst
        "Posteriors for test observation 0", "Posteriors for test observation 1",
        "LF and HF voltage traces",  # traces_lf_hf.rst
        "CPU cost per model",  # cost.rst
        "Calibration at 20 HF simulations", "Calibration at 40 HF simulations",
        "95% Student-t interval",
        # what the run found comes first (results/report.rst, rule report_page)
        "What this run found.", "tiny-1: ", "tiny-2: ", "MF-NPE worst sweep",
        "results/figures/observations/tiny-1_pairplot.png",
    ):
        assert text in html, text
    assert html.index("What this run found.") < html.index(
        "multifidelity simulation-based inference for a stochastic")
    for figure in ("nltp_vs_budget", "pairplot_obs-0", "pairplot_obs-1", "traces_lf_hf", "cost",
                   "calibration_nhf-20", "calibration_nhf-40"):
        assert f"results/figures/{figure}.png" in html, figure
    assert "snakemake.config[" not in html and "snakemake.wildcards" not in html  # rendered
