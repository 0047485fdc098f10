"""README's headline and the default run's tables in docs/results.md are what
tools/results_tables.py writes from the default run's results/summary/.

tests/data/summary_7010b0a/ is a copy of that run's summary rows (`make run` at 7010b0a,
the simulators of today): table.csv's nltp rows, saving.csv,
saving_over_seeds.csv, calibration.csv, and the HPD columns of observations.csv. After a
new default run, `python tools/results_tables.py` rewrites docs/headline.csv and the
tables; copy the run's rows here and update README's headline paragraph to match."""

import csv
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "results_tables.py"
FIXTURE = ROOT / "tests" / "data" / "summary_7010b0a"
HEADLINE = ROOT / "docs" / "headline.csv"
RESULTS = ROOT / "docs" / "results.md"


def tool_module():
    spec = importlib.util.spec_from_file_location("results_tables", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def headline_rows():
    with open(HEADLINE, newline="") as handle:
        return list(csv.DictReader(handle))


def headline_paragraph():
    """README's "Headline result" section up to its figure, bold marks dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Headline result", 1)[1].split("\n## ", 1)[0]
    return section.split("![", 1)[0].replace("**", "")


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)],
                          capture_output=True, text=True)


def test_readme_headline_quotes_exactly_the_headline_table():
    rows = {row["role"]: row for row in headline_rows()}
    text = headline_paragraph()
    decimals = re.findall(r"(?<![\d.])\d+\.\d\d(?![\d])", text)
    values = {row[k] for row in rows.values() for k in ("nltp", "ci_low", "ci_high")}
    assert decimals and set(decimals) <= values, (
        f"README headline numbers not in docs/headline.csv: {sorted(set(decimals) - values)}")
    # every row's NLTP is quoted, and an interval quoted after a mean is that row's
    for row in rows.values():
        assert row["nltp"] in decimals, f"README headline lacks {row['role']} ({row['nltp']})"
    for mean, low, high in re.findall(r"(\d+\.\d\d) \[(\d+\.\d\d), (\d+\.\d\d)\]", text):
        assert any((r["nltp"], r["ci_low"], r["ci_high"]) == (mean, low, high)
                   for r in rows.values()), f"README: {mean} [{low}, {high}] is no row's"
    # the budgets named, the ratio, the seeds
    budgets = {int(b) for b in re.findall(r"\b(?:on|at)\s+(\d+)(?![\w.])(?!\s+times)",
                                                    text)}
    assert budgets == {int(r["n_hf"]) for r in rows.values() if r["method"] != "lf_npe"}
    ratio = re.search(r"(\d+) times as many", text)
    assert ratio and int(ratio.group(1)) == (int(rows["npe_largest"]["n_hf"])
                                             // int(rows["mf_npe_smallest"]["n_hf"]))
    seeds = re.search(r"(\d+) training seeds", text)
    assert seeds and {seeds.group(1)} == {r["n_seeds"] for r in rows.values()}
    # the run the numbers come from is the one the fixture copies
    assert FIXTURE.name.split("_")[-1] in text


def test_the_committed_tables_are_the_tools_output_of_the_default_run():
    """docs/headline.csv and docs/results.md's tables as the tool writes them from the
    default run's summary rows."""
    run = run_tool(FIXTURE, "--check")
    assert run.returncode == 0, run.stderr
    assert [r["role"] for r in headline_rows()] == [
        "mf_npe_smallest", "mf_npe_largest", "npe_smallest", "npe_largest", "lf_npe_alone"]


@pytest.mark.parametrize("marker", tool_module().BLOCKS)
def test_results_has_each_table_once(marker):
    text = RESULTS.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    assert text.count(start) == 1 and text.count(end) == 1
    assert text.index(start) < text.index(end)


def test_the_tool_rewrites_only_its_tables_and_check_finds_a_changed_number(tmp_path):
    summary = tmp_path / "summary"
    shutil.copytree(FIXTURE, summary)
    table = (summary / "table.csv").read_text()
    old = "mf_npe,10000,50,nltp,5.001830403407414"
    assert old in table
    (summary / "table.csv").write_text(table.replace(old, "mf_npe,10000,50,nltp,4.1234"))
    doc, headline = tmp_path / "results.md", tmp_path / "headline.csv"
    shutil.copy(RESULTS, doc)
    shutil.copy(HEADLINE, headline)
    check = run_tool(summary, "--doc", doc, "--headline", headline, "--check")
    assert check.returncode == 1 and "differs" in check.stderr
    assert doc.read_text() == RESULTS.read_text()  # --check changes nothing
    assert run_tool(summary, "--doc", doc, "--headline", headline).returncode == 0
    assert "mf_npe_smallest,mf_npe,10000,50,4.12,4.92,5.08,3" in headline.read_text()
    new = doc.read_text()
    assert "| MF-NPE | 4.12 [4.92, 5.08] | 4.91" in new
    outside = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->", re.DOTALL)
    assert outside.sub("", new) == outside.sub("", RESULTS.read_text())


def test_headline_picks_the_smallest_and_largest_budgets():
    tool = tool_module()
    rows = [{"method": m, "n_lf": lf, "n_hf": hf, "metric": "nltp", "mean": mean,
             "ci_low": mean - 0.1, "ci_high": mean + 0.1, "n_seeds": 2}
            for m, lf, hf, mean in [("npe", 0, 10, 9.0), ("npe", 0, 40, 7.0),
                                    ("npe", 0, 20, 8.0), ("mf_npe", 100, 10, 5.0),
                                    ("mf_npe", 100, 40, 4.0), ("mf_npe", 10, 40, 6.0),
                                    ("lf_npe", 100, 0, 5.5), ("lf_npe", 10, 0, 6.5)]]
    got = {r["role"]: (r["n_lf"], r["n_hf"], r["nltp"]) for r in tool.headline(rows)}
    assert got == {"mf_npe_smallest": (100, 10, "5.00"), "mf_npe_largest": (100, 40, "4.00"),
                   "npe_smallest": (0, 10, "9.00"), "npe_largest": (0, 40, "7.00"),
                   "lf_npe_alone": (100, 0, "5.50")}


def test_no_section_of_the_results_rests_on_the_earlier_simulators():
    text = RESULTS.read_text()
    for phrase in ("measured with the earlier simulators",
                   "measured with the simulators before the start at rest"):
        assert phrase not in text.lower()
