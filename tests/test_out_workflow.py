"""Two experiments in one checkout (config key ``out``): a second config with its own
output folder runs after the tiny run and neither touches the other's files; the end of the
run says what it found; an output folder inside another run's is refused before any job."""

import hashlib
from pathlib import Path

import pytest
import yaml

from workflow_helpers import TINY, snakemake

SECOND = "second-run"


def files_with_times(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its SHA-256 and modification time [ns]."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(),
                                            path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.workflow
def test_two_output_folders_in_one_checkout_leave_each_other_untouched(copied_run, tmp_path):
    first = copied_run / "results"
    before = files_with_times(first)
    assert "summary/observations.csv" in before and "report.rst" in before
    overlay = tmp_path / "second.yaml"  # another experiment: one seed, one HF budget
    overlay.write_text(yaml.safe_dump({"inference": {"seeds": 1}, "budgets": {"n_hf": [20]}}))

    refused = snakemake(copied_run, "-n", "--config", "out=results/inner",
                        configfile=[TINY, overlay])
    assert refused.returncode != 0
    assert "config key out='results/inner'" in refused.stderr + refused.stdout
    assert "the output folder of another run" in refused.stderr + refused.stdout
    assert not (copied_run / "results" / "inner").exists()

    run = snakemake(copied_run, "--cores", "2", "--config", f"out={SECOND}",
                    configfile=[TINY, overlay])
    assert run.returncode == 0, run.stderr[-3000:]
    assert files_with_times(first) == before  # byte-identical, not rewritten
    second = copied_run / SECOND
    assert {path.name for path in copied_run.iterdir()} == {"results", SECOND, ".snakemake"}
    assert yaml.safe_load((second / "config.yaml").read_text())["out"] == SECOND
    assert sorted(p.name for p in (second / "models" / "npe").iterdir()) == [
        "nlf-0_nhf-20_seed-0.pt"]
    output = run.stdout + run.stderr
    # the startup line names each config file once
    assert f"config: {TINY}, {overlay} -> {SECOND}/config.yaml" in output
    # the end of the run: every recording's verdict, fit and figures, under the second folder
    assert f"(per model and sweep: {SECOND}/summary/observations.csv):" in output
    for name in ("tiny-1", "tiny-2"):
        assert f"\n  {name}: " in output and "MF-NPE worst sweep" in output
        assert f"figures: {SECOND}/figures/observations/{name}_pairplot.png, " in output
    page = (second / "report.rst").read_text()
    assert page.startswith("**What this run found.**") and f"``{SECOND}/figures" in page

    after = files_with_times(second)
    again = snakemake(copied_run, "--cores", "1")  # the first experiment: nothing to do
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    assert files_with_times(second) == after
    assert files_with_times(first) == before
