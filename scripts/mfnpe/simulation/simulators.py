"""Simulator registry: a simulator's settings (``SimulatorSettings``) -> a batch function.

Modules are imported lazily, so an HF job never loads JAX and an LF job never compiles
the Markov kernels.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from mfnpe import runtime
from mfnpe.names import LF_SIMULATORS, MARKOV_SIMULATORS
from mfnpe.simulation.experiment import SimulatorSettings


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

    def load(self) -> Callable:
        """The batch function itself (its module imported on first use; for JAX, call
        ``runtime.start_jax`` first where the job's threads matter)."""
        return getattr(importlib.import_module(self.module), self.function)


BATCH_SIZE = {"markov": 1, "binomial": 8}
"""Simulations per call of the numba simulators (the JAX ones take 500, padded)."""
REGISTRY: dict[str, SimulatorSpec] = {
    **{name: SimulatorSpec("mfnpe.hh.markov", f"simulate_{name}", BATCH_SIZE[name], "numba")
       for name in MARKOV_SIMULATORS},
    **{name: SimulatorSpec("mfnpe.hh.langevin", f"simulate_{name}", 500, "jax")
       for name in LF_SIMULATORS},
}
"""Simulator name (``mfnpe.names.SIMULATORS``) -> where it lives and how it is batched."""


def spec(name: str) -> SimulatorSpec:
    """Where simulator ``name`` lives and how it is batched."""
    if name not in REGISTRY:
        raise ValueError(f"unknown simulator {name!r}; known: {list(REGISTRY)}")
    return REGISTRY[name]


def batch_function(settings: SimulatorSettings) -> Callable:
    """``f(constants, stimulus, seeds, **kwargs) -> SimOutput`` of the simulator
    ``settings`` (name, dt [ms], options)."""
    found = spec(settings.name)
    if found.backend == "jax":
        runtime.start_jax()  # before the simulator module touches JAX
    return functools.partial(found.load(), dt=settings.dt, **dict(settings.options))
