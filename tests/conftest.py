"""Shared fixtures (one complete local run of the tiny config per test session) and the
hooks that keep the test tiers (tests/tiers.py: unit, workflow, cluster)."""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))  # tools/import_graph.py
pytest.register_assert_rewrite("hh_reference")  # its shared assertions explain failures
# JAX's compiled programs persist in the checkout (as numba's do in __pycache__), shared by
# the workers and the workflow's jobs; a fresh clone starts with none (mfnpe.runtime)
os.environ.setdefault("MFNPE_JAX_CACHE", str(Path(__file__).parents[1] / ".cache" / "jax"))

from schedule import file_order  # noqa: E402
from tiers import (  # noqa: E402
    mark_tiers,
    selects_cluster,
    snakemake_forbidden_in_unit_tests,
)
from workflow_helpers import snakemake  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory of a complete local run of tests/configs/tiny.yaml (2 cores).

    One run per test session: under pytest-xdist the workers share it (the first to need
    it runs it, holding a lock; the others wait and reuse it). Tests must not modify it:
    copy it (``shutil.copytree``) before changing anything."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _complete_tiny_run(tmp_path_factory.mktemp("tiny"))
    shared = tmp_path_factory.getbasetemp().parent  # this session's, common to its workers
    with open(shared / "tiny_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        workdir, complete = shared / "tiny_run", shared / "tiny_run.complete"
        if not complete.exists():
            shutil.rmtree(workdir, ignore_errors=True)  # a failed attempt's remains
            workdir.mkdir()
            _complete_tiny_run(workdir)
            complete.touch()
    return workdir


@pytest.fixture
def copied_run(tiny_run, tmp_path) -> Path:
    """A private copy of the complete tiny run (file times kept), for a test that changes it."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    return workdir


def _complete_tiny_run(workdir: Path) -> Path:
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


START_SLURM = Path(__file__).parent / "cluster" / "start_slurm.sh"


def pytest_sessionstart(session):
    """When the session includes the SLURM test, install and start the test cluster at once,
    in the background (apt-get takes minutes on a fresh machine): the other tests run
    meanwhile, and the SLURM test's own call of the script waits for this one."""
    if "PYTEST_XDIST_WORKER" in os.environ or not selects_cluster(session.config.option.markexpr):
        return
    args = [Path(arg.split("::")[0]).resolve() for arg in session.config.args]
    slurm_test = START_SLURM.parents[1] / "test_slurm.py"
    if not any(arg == slurm_test or arg in slurm_test.parents for arg in args):
        return
    ignored = [Path(path).resolve() for path in (session.config.option.ignore or [])]
    if any(path == slurm_test or path in slurm_test.parents for path in ignored):
        return  # e.g. pytest tests --ignore=tests/test_slurm.py
    with open(Path(tempfile.gettempdir()) / "mfnpe-start-slurm.log", "w") as out:
        subprocess.Popen(["bash", str(START_SLURM)], stdout=out, stderr=out,
                         stdin=subprocess.DEVNULL, start_new_session=True)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by the markers
def pytest_collection_modifyitems(config, items):
    """Tests that use the tiny run are marked ``workflow`` (tests/tiers.py); the slowest
    files come first (tests/schedule.py: with ``make test``'s ``pytest -n 2 --dist loadfile
    --no-loadscope-reorder`` the short files then fill both workers' ends)."""
    mark_tiers(items)
    items[:] = file_order(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A unit test that starts Snakemake (setup, call or teardown) fails (tests/tiers.py)."""
    with snakemake_forbidden_in_unit_tests(item):
        return (yield)
