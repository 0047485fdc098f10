"""CPU seconds of each simulator's first call per neuron model in a new process: compiling
(or reading from the disk caches) plus one short simulation.

    NUMBA_CACHE_DIR=$(mktemp -d) MFNPE_JAX_CACHE=$(mktemp -d) OMP_NUM_THREADS=1 \\
        .venv/bin/python tools/compile_times.py      (empty caches: everything compiles)

Run it again with the same ``MFNPE_JAX_CACHE`` (and ``NUMBA_CACHE_DIR``) for the times
with the caches filled; ``MFNPE_JAX_CACHE=off`` for JAX without its disk cache.
"""

from __future__ import annotations

import time

import numpy as np

from mfnpe.hh.model import constants_table
from mfnpe.hh.models import MODELS
from mfnpe.simulation.simulators import REGISTRY
from mfnpe.stimulus.step import Stimulus

DT = {"numba": 0.01, "jax": 0.025}  # ms: the HF and LF steps of the default config
OPTIONS = {"current_noise": {"sigma": 0.5}}  # µA/cm²·ms^½, the simulator's one option


def main() -> None:
    total = time.process_time()
    for model in MODELS:
        table = constants_table({"name": model}, np.zeros((1, 0)))
        for name, spec in REGISTRY.items():
            simulate = spec.load()
            start = time.process_time()
            simulate(table, Stimulus(2.0, 0.5, 1.5), DT[spec.backend],
                     np.zeros(1, dtype=np.uint32), **OPTIONS.get(name, {}))
            print(f"{model:15s} {name:18s} {time.process_time() - start:6.2f} s")
    print(f"total {time.process_time() - total:.1f} s of CPU")


if __name__ == "__main__":
    main()
