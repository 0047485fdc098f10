"""Compile the numba kernels once per machine: the Markov and binomial simulators for
every shipped neuron model, and the features' kernels, into numba's disk cache.

    .venv/bin/python -m mfnpe.simulation.compile      (``make install`` runs it)

A run's first jobs then read the kernels instead of each compiling them at once (this
machine, empty cache: 15 s for the first model's Markov kernel, 1–5 s for each other kind
of model). numba keys its cache by the modification time of the file a kernel is defined
in: after an edit the next job compiles that kernel again, or this command does. A model
from a file is compiled by its first job. JAX's programs depend on the batch and the trace
length, so each shape is compiled by its first job and kept by
:func:`mfnpe.runtime.use_jax_cache`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from mfnpe.hh.model import constants_table
from mfnpe.hh.models import MODELS
from mfnpe.simulation.features import NAMES, compute_features
from mfnpe.simulation.simulators import REGISTRY
from mfnpe.stimulus.step import Stimulus

STIMULUS = Stimulus(4.0, 1.0, 3.0)  # ms: a short step, long enough for every feature


def compile_kernels(models: Sequence[str] = tuple(MODELS)) -> dict[str, float]:
    """Run each numba simulator (the JAX ones are compiled per shape) on one simulation of
    every model in ``models`` (at least one) and every feature on the last trace:
    {"<model> <simulator>" or "features": seconds of CPU}."""
    numba_simulators = {name: spec.load() for name, spec in REGISTRY.items()
                        if spec.backend == "numba"}
    seconds = {}
    for name in models:
        table = constants_table({"name": name}, np.zeros((1, 0)))
        for simulator, simulate in numba_simulators.items():
            start = time.process_time()
            v = simulate(table, STIMULUS, 0.01, np.zeros(1, dtype=np.uint32)).v
            seconds[f"{name} {simulator}"] = time.process_time() - start
    start = time.process_time()
    compute_features(v, 0.01, STIMULUS, list(NAMES))
    seconds["features"] = time.process_time() - start
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    """Compile for the models named in ``argv`` (default: every shipped model)."""
    models = list(sys.argv[1:] if argv is None else argv) or list(MODELS)
    for item, spent in compile_kernels(models).items():
        print(f"compiled {item}: {spent:.1f} s")


if __name__ == "__main__":
    main()
