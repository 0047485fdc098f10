"""The test tiers (tests/tiers.py) hold by rule: a test using the tiny run is a workflow
test, and a unit test that starts Snakemake fails, in a planted pytest session that runs
this folder's own conftest.py, tiers.py and pyproject.toml's markers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiers import launches_snakemake, selects_cluster

ROOT = Path(__file__).resolve().parents[1]

PLANTED_TESTS = '''
import os
import subprocess
import sys

import pytest

FAKE = os.environ["FAKE_SNAKEMAKE"]


def test_unit_test_starting_snakemake():
    subprocess.run([FAKE, "--version"], check=True)


def test_unit_test_starting_python_m_snakemake():
    subprocess.run([sys.executable, "-m", "snakemake", "--version"], check=True)


@pytest.fixture(scope="module")
def module_dry_run():
    return subprocess.run([FAKE, "-n"], check=True)


def test_unit_test_with_a_module_fixture_starting_snakemake(module_dry_run):
    assert module_dry_run.returncode == 0


@pytest.mark.workflow
def test_workflow_test_starting_snakemake():
    assert subprocess.run([FAKE, "--version"]).returncode == 0


@pytest.fixture
def patched_popen(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", "a test's own stand-in")


def test_unit_test_whose_fixture_patches_popen(patched_popen):
    assert subprocess.Popen == "a test's own stand-in"


def test_unit_test_starting_another_program():
    assert subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True).stdout


def test_using_the_tiny_run(tiny_run):
    assert tiny_run.is_dir()
'''


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A repository with this one's pyproject.toml, config schema, tests/conftest.py and
    its helpers, the planted tests and a fake ``snakemake`` executable (it exits 0)."""
    root = tmp_path_factory.mktemp("planted")
    shutil.copy(ROOT / "pyproject.toml", root)
    (root / "workflow" / "schemas").mkdir(parents=True)  # workflow_helpers loads it
    shutil.copy(ROOT / "workflow" / "schemas" / "config.schema.yaml", root / "workflow" / "schemas")
    (root / "tests").mkdir()
    for name in ("conftest.py", "tiers.py", "schedule.py", "workflow_helpers.py"):
        shutil.copy(ROOT / "tests" / name, root / "tests")
    (root / "tests" / "test_planted.py").write_text(PLANTED_TESTS)
    fake = root / "bin" / "snakemake"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    return root


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAKE_SNAKEMAKE": str(root / "bin" / "snakemake")}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "tests/test_planted.py", *args],
                          capture_output=True, text=True, cwd=root, env=env, check=False)


def test_tests_using_the_tiny_run_are_workflow_tests(planted):
    run = pytest_in(planted, "--collect-only", "-q", "-m", "workflow")
    collected = sorted(re.findall(r"test_planted\.py::(\w+)", run.stdout))
    assert collected == ["test_using_the_tiny_run", "test_workflow_test_starting_snakemake"], \
        run.stdout + run.stderr


def test_a_unit_test_that_starts_snakemake_fails(planted):
    run = pytest_in(planted, "-rA", "-m", "not workflow and not cluster")
    output = run.stdout + run.stderr
    outcomes = dict((name, outcome) for outcome, name in
                    re.findall(r"^(PASSED|FAILED|ERROR) tests/test_planted\.py::(\w+)",
                               run.stdout, re.MULTILINE))
    assert outcomes == {
        "test_unit_test_starting_snakemake": "FAILED",
        "test_unit_test_starting_python_m_snakemake": "FAILED",
        "test_unit_test_with_a_module_fixture_starting_snakemake": "ERROR",
        "test_unit_test_whose_fixture_patches_popen": "PASSED",
        "test_unit_test_starting_another_program": "PASSED",
    }, output
    assert "2 deselected" in output, output
    assert output.count("but is a unit test: mark it @pytest.mark.workflow") >= 3, output


def test_a_workflow_test_may_start_snakemake(planted):
    run = pytest_in(planted, "-q", "-k", "test_workflow_test_starting_snakemake")
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_an_unregistered_marker_is_an_error(planted):
    (planted / "tests" / "test_typo.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.worflow
        def test_typo():
            pass
        """))
    try:
        run = pytest_in(planted, "tests/test_typo.py", "-q")
    finally:
        (planted / "tests" / "test_typo.py").unlink()
    assert run.returncode != 0 and "'worflow' not found in `markers`" in run.stdout + run.stderr


@pytest.mark.parametrize("command, starts", [
    ([sys.executable, "-m", "snakemake", "-n"], True),
    (["/usr/bin/snakemake", "--lint"], True),
    ("snakemake --cores 1 all", True),
    (Path("/opt/venv/bin/snakemake"), True),
    ([sys.executable, "-c", "import json\nfrom snakemake.api import SnakemakeApi\n"], True),
    (["make", "run", "SNAKEMAKE=true"], False),
    ([sys.executable, "-m", "mfnpe.config_check", "config/snakemake.yaml"], False),
    ([sys.executable, "-c", "print('snakemake')"], False),
    (["git", "ls-files"], False),
])
def test_what_counts_as_starting_snakemake(command, starts):
    assert launches_snakemake(command) is starts


@pytest.mark.parametrize("markexpr, selects", [
    (None, True), ("", True), ("cluster", True), ("workflow or cluster", True),
    ("not workflow and not cluster", False), ("workflow", False), ("not cluster", False),
])
def test_the_slurm_cluster_is_started_early_only_for_sessions_that_may_run_it(markexpr,
                                                                             selects):
    assert selects_cluster(markexpr) is selects
