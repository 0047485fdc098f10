"""Shared fixtures: one complete local run of the tiny config per test session."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from workflow_helpers import snakemake  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory of a complete local run of tests/configs/tiny.yaml (2 cores).

    Tests must not modify it: copy it (``shutil.copytree``) before changing anything."""
    workdir = tmp_path_factory.mktemp("tiny")
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir
