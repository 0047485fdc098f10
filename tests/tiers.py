"""The test tiers, kept by rules rather than by hand (the hooks are in ``conftest.py``).

- ``workflow``: runs Snakemake (a dry run included) or another end-to-end run. A test
  that uses one of ``WORKFLOW_FIXTURES`` is marked so at collection; a test that starts
  Snakemake itself carries ``@pytest.mark.workflow`` (or the module's ``pytestmark``).
- ``cluster``: runs the workflow on the SLURM test cluster (``tests/test_slurm.py``).
- unit: everything else; ``make test-fast`` runs them (``-m "not workflow and not
  cluster"``), ``make test`` runs every tier.

A unit test that starts Snakemake (``python -m snakemake``, a ``snakemake`` executable, or
``python -c`` code importing it), in its setup (fixtures of any scope), its call or its
teardown, fails with a message that names the missing marker: the tiers cannot drift
silently (``tests/test_tiers.py`` checks the rule on planted tests).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

TIERS = ("workflow", "cluster")
"""The markers of the tiers beyond unit tests (registered in pyproject.toml)."""

WORKFLOW_FIXTURES = frozenset({"tiny_run"})
"""Fixtures whose use makes a test a workflow test (the session's complete tiny run)."""

_IMPORTS_SNAKEMAKE = re.compile(r"^\s*(?:from|import)\s+snakemake\b", re.MULTILINE)


def _words(args: str | bytes | os.PathLike | Sequence) -> list[str]:
    """A ``subprocess.Popen`` command line as a list of words."""
    if isinstance(args, (str, bytes)):
        return shlex.split(os.fsdecode(args))
    if isinstance(args, os.PathLike):
        return [os.fsdecode(args)]
    return [os.fsdecode(a) for a in args]


def launches_snakemake(args: str | bytes | os.PathLike | Sequence) -> bool:
    """Whether a ``subprocess.Popen`` command line starts Snakemake."""
    words = _words(args)
    for i, word in enumerate(words):
        if os.path.basename(word) == "snakemake":
            return True  # the executable, or ``python -m snakemake``
        if word == "-c" and i + 1 < len(words) and _IMPORTS_SNAKEMAKE.search(words[i + 1]):
            return True
    return False


def mark_tiers(items: list[pytest.Item]) -> None:
    """Mark ``workflow`` every test that uses one of ``WORKFLOW_FIXTURES`` (unless it is a
    ``cluster`` test)."""
    for item in items:
        if item.get_closest_marker("cluster") is None and \
                WORKFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.workflow)


def selects_cluster(markexpr: str | None) -> bool:
    """Whether ``-m markexpr`` may select the cluster test (``make test-fast``'s does not):
    then the session starts the SLURM test cluster early (conftest.py)."""
    return not markexpr or ("cluster" in markexpr and "not cluster" not in markexpr)


def tier(item: pytest.Item) -> str:
    return next((name for name in TIERS if item.get_closest_marker(name)), "unit")


@contextmanager
def snakemake_forbidden_in_unit_tests(item: pytest.Item) -> Iterator[None]:
    """While ``item`` runs (its setup, call and teardown), a unit test that starts Snakemake
    fails."""
    if tier(item) != "unit":
        yield
        return
    real_popen = subprocess.Popen

    class UnitTestPopen(real_popen):
        def __init__(self, args, *more, **options):
            if launches_snakemake(args):
                command = shlex.join(_words(args))
                pytest.fail(f"{item.nodeid} starts Snakemake ({command[:300]}) but is a unit "
                            "test: mark it @pytest.mark.workflow (tests/tiers.py)", pytrace=False)
            super().__init__(args, *more, **options)

    subprocess.Popen = UnitTestPopen
    try:
        yield
    finally:
        if subprocess.Popen is UnitTestPopen:  # else a test's own patch, left to its undoing
            subprocess.Popen = real_popen
