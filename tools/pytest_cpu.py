"""A pytest plugin that prints the CPU time each process of the session used: the
controller and every pytest-xdist worker, each with its subprocesses. The CPU time does
not grow when other work shares the machine (the wall time does), and the busiest
worker's is what an idle machine with a core per worker needs at least.

    PYTHONPATH=tools PYTEST_ADDOPTS="-p pytest_cpu" make test-fast

prints at the end, e.g. ``CPU time [s]: gw0 150.5 (own 132.6, subprocesses 17.9), ...``
(without xdist, one row: the session's own process).
"""

from __future__ import annotations

import os
import resource

import pytest


def _cpu() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for subprocesses
    return {"own": own.ru_utime + own.ru_stime,
            "subprocesses": children.ru_utime + children.ru_stime}


def pytest_configure(config):
    config._cpu_by_worker = {}


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the numbers to the controller
        workeroutput["cpu"] = _cpu()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_testnodedown(node, error):
    cpu = getattr(node, "workeroutput", {}).get("cpu")
    if cpu is not None:
        node.config._cpu_by_worker[node.gateway.id] = cpu


def pytest_terminal_summary(terminalreporter, config):
    rows = dict(sorted(config._cpu_by_worker.items()))
    if "PYTEST_XDIST_WORKER" not in os.environ:
        own = _cpu()
        # with workers, its subprocesses are the workers (counted above) once they are gone
        rows["controller" if not rows else "controller (own)"] = (
            own if not rows else {"own": own["own"], "subprocesses": 0.0})
    terminalreporter.write_line("CPU time [s]: " + ", ".join(
        f"{name} {r['own'] + r['subprocesses']:.1f} (own {r['own']:.1f}, subprocesses "
        f"{r['subprocesses']:.1f})" for name, r in rows.items()))
