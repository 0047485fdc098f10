"""Simulator registry: a config's ``simulators.<fidelity>`` section -> a batch function.

Modules are imported lazily, so an HF job never loads JAX and an LF job never compiles
the Markov kernels.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorSpec:
    """Where a simulator lives and how the shard runner should batch it.

    Attributes
    ----------
    module, function : the batch function ``(constants, stimulus, dt, seeds, **options)``.
    batch_size : simulations per call (one task of the shard's thread pool).
    fixed_shape : pad the last batch to ``batch_size`` (JAX compiles once per shape).
    """

    module: str
    function: str
    batch_size: int
    fixed_shape: bool


REGISTRY: dict[str, SimulatorSpec] = {
    "markov": SimulatorSpec("mfnpe.hh.markov", "simulate_markov", 1, False),
    "binomial": SimulatorSpec("mfnpe.hh.markov", "simulate_binomial", 8, False),
    "deterministic": SimulatorSpec("mfnpe.hh.langevin", "simulate_deterministic", 500, True),
    "current_noise": SimulatorSpec("mfnpe.hh.langevin", "simulate_current_noise", 500, True),
    "subunit_langevin": SimulatorSpec("mfnpe.hh.langevin", "simulate_subunit_langevin", 500, True),
    "edge_langevin": SimulatorSpec("mfnpe.hh.langevin", "simulate_edge_langevin", 500, True),
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
    function = getattr(importlib.import_module(found.module), found.function)
    options = {key: value for key, value in settings.items() if key not in ("name", "dt")}
    return functools.partial(function, dt=settings["dt"], **options)
