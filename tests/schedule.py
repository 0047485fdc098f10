"""The order in which ``make test`` hands the test files to its two workers.

``pytest -n 2 --dist loadfile`` gives each worker a whole file at a time, in the order of
the collection (with ``--no-loadscope-reorder``; pytest-xdist's default instead puts the
files with the most tests first, which left the few-test end-to-end files, minutes each,
for the end of the session, where one worker ran them while the other sat idle). The
slowest files go first, longest first, so that the many short files fill the gaps at the
end: the session lasts about as long as the busier worker's share of the CPU time.
``tests/conftest.py`` applies it.
"""

from __future__ import annotations

from collections import Counter

import pytest

SLOWEST_FIRST = (
    "test_workflow.py",             # the session's tiny run (about 165 s; 6 more files read it)
    "test_sequential.py",           # the sequential methods on the toy task
    "test_recording_workflow.py",   # the tiny recording run and its further cells
    "test_reliability.py",          # the heal run on a copy of the tiny run
    "test_sequential_workflow.py",  # the sequential overlay on top of the tiny run
    "test_out_workflow.py",         # the model-file experiment beside the tiny run
    "test_slurm.py",                # the SLURM run (its cluster starts with the session)
    "test_inference.py",            # the toy task's trainings and the C2ST-by-budget sweep
    "test_model_file.py",           # the numba disk-cache test
    "test_reruns.py",               # the killed-and-resumed run
)
"""Test files (in ``tests/``) that take the longest, slowest first (``make test``'s
``--durations``; docs/results.md, "The test suite"). The tiny run's file leads and the
next two do not read the tiny run, so no worker waits for it; the SLURM test comes late,
when its cluster has started. The other files follow, most tests first."""


def file_order(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with the files of ``SLOWEST_FIRST`` first, in its order, then the other
    files, those with more tests first (pytest-xdist's own order); within a file, the
    collection's order."""
    files = [item.path.name for item in items]
    tests_in = Counter(files)
    first_seen = {name: i for i, name in reversed(list(enumerate(files)))}

    def rank(name: str) -> tuple[int, int, int]:
        if name in SLOWEST_FIRST:
            return (0, SLOWEST_FIRST.index(name), 0)
        return (1, -tests_in[name], first_seen[name])

    order = sorted(range(len(items)), key=lambda i: (rank(files[i]), i))
    return [items[i] for i in order]
