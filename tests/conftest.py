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


TINY_RUN_MODULES = ("test_workflow", "test_reruns", "test_lint", "test_sequential_workflow",
                    "test_slurm")
"""Modules whose tests share the session's tiny run (or a SLURM run compared with it)."""


def pytest_collection_modifyitems(config, items):
    """With ``pytest -n 2 --dist loadgroup`` (``make test``): the tests of one module run on
    one worker, so a module's fixtures are built once, and the modules that share the tiny
    run run together, first (the longest group), while the other worker takes the rest."""
    for item in items:
        module = item.module.__name__
        item.add_marker(pytest.mark.xdist_group("tiny_run" if module in TINY_RUN_MODULES
                                                else module))
    items.sort(key=lambda item: item.module.__name__ not in TINY_RUN_MODULES)
