"""Simulator registry: a config's ``simulators.<fidelity>`` section -> a batch function.

Modules are imported lazily, so an HF job never loads JAX and an LF job never compiles
the Markov kernels.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mfnpe import runtime


@dataclass(frozen=True)
class SimulatorSpec:
    """Where a simulator lives and how the shard runner should batch it.

    Attributes
    ----------
    module, function : the batch function ``(constants, stimulus, dt, seeds, **options)``.
    batch_size : simulations per call (one task of the shard's thread pool).
    backend : "numba" or "jax"; JAX compiles once per shape, so the runner pads the last
        batch to ``batch_size``.
    """

    module: str
    function: str
    batch_size: int
    backend: str

    @property
    def fixed_shape(self) -> bool:
        return self.backend == "jax"


REGISTRY: dict[str, SimulatorSpec] = {
    "markov": SimulatorSpec("mfnpe.hh.markov", "simulate_markov", 1, "numba"),
    "binomial": SimulatorSpec("mfnpe.hh.markov", "simulate_binomial", 8, "numba"),
    "deterministic": SimulatorSpec("mfnpe.hh.langevin", "simulate_deterministic", 500, "jax"),
    "current_noise": SimulatorSpec("mfnpe.hh.langevin", "simulate_current_noise", 500, "jax"),
    "subunit_langevin": SimulatorSpec("mfnpe.hh.langevin", "simulate_subunit_langevin", 500, "jax"),
    "edge_langevin": SimulatorSpec("mfnpe.hh.langevin", "simulate_edge_langevin", 500, "jax"),
}


def spec(settings: Mapping) -> SimulatorSpec:
    name = settings["name"]
    if name not in REGISTRY:
        raise ValueError(f"unknown simulator {name!r}; known: {list(REGISTRY)}")
    return REGISTRY[name]


def batch_function(settings: Mapping) -> Callable:
    """``f(constants, stimulus, seeds, **kwargs) -> SimOutput`` for the simulator settings
    ``{"name": ..., "dt": ..., <options>}``."""
    found = spec(settings)
    if found.backend == "jax":
        runtime.start_jax()  # before the simulator module touches JAX
    function = getattr(importlib.import_module(found.module), found.function)
    options = {key: value for key, value in settings.items() if key not in ("name", "dt")}
    return functools.partial(function, dt=settings["dt"], **options)
