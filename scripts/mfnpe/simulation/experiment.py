"""An experiment's simulation as one value: simulator, neuron model, stimulus, features and
the traces kept.

:class:`ExperimentSimulation` is what every simulation of a pool (or of a sequential chain,
an example recording, a predictive check) depends on besides its parameters and seeds.
The planning layer builds it from the config (``mfnpe.plan.shards.experiment_simulation``);
its plain form (:meth:`ExperimentSimulation.to_dict`) is what rules pass as params, so an
edit re-runs the jobs, and what every shard stores beside its identity (seed, pool, shard)
for provenance. Plain Python (the stimulus types import numpy where used): the planning
layer imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mfnpe.stimulus.protocols import Protocol, feature_windows, from_settings, to_settings
from mfnpe.stimulus.step import Stimulus
from mfnpe.stimulus.sweeps import feature_names
from mfnpe.stimulus.windows import Windows

STEP_KEYS = ("duration", "t_on", "t_off")
"""The plain step stimulus' keys, in the order its plain form lists them."""
REFERENCE_KEYS = ("name", "file")
"""Keys of a model section that name the model rather than set a constant."""


@dataclass(frozen=True)
class SimulatorSettings:
    """The simulator of one fidelity and the settings it reads.

    Attributes
    ----------
    name : a simulator of ``mfnpe.names.SIMULATORS``.
    dt : integration step [ms].
    options : its other settings (``mfnpe.names.SIMULATOR_OPTIONS``), ``(key, value)``
        pairs in order (``current_noise``'s ``sigma`` [µA/cm²]).
    """

    name: str
    dt: float
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, plain: Mapping) -> SimulatorSettings:
        """From ``{"name", "dt", <options>}``."""
        return cls(plain["name"], plain["dt"],
                   tuple((k, v) for k, v in plain.items() if k not in ("name", "dt")))

    def to_dict(self) -> dict:
        return {"name": self.name, "dt": self.dt, **dict(self.options)}


@dataclass(frozen=True)
class FixedModel:
    """The neuron model and its constants fixed for every simulation (the inferred ones
    come with theta).

    Attributes
    ----------
    items : the config's ``model`` section less the inferred constants, in its order:
        ``("name" | "file", str)`` naming the model (absent: the default model) and
        ``(constant, value)`` pairs in the model's units.
    """

    items: tuple[tuple[str, Any], ...]

    @property
    def reference(self) -> str | None:
        """The model's file if given (it replaces a name), else its name; None: the
        default model (``mfnpe.hh.models.model_reference``)."""
        found = dict(self.items)
        return found.get("file") or found.get("name")

    @property
    def constants(self) -> dict[str, float]:
        """{constant: value} of the fixed constants."""
        return {k: v for k, v in self.items if k not in REFERENCE_KEYS}

    @classmethod
    def from_dict(cls, plain: Mapping) -> FixedModel:
        return cls(tuple(plain.items()))

    def to_dict(self) -> dict:
        """The plain section (what ``mfnpe.hh.model.constants_table`` reads)."""
        return dict(self.items)


@dataclass(frozen=True)
class Sweep:
    """One sweep of a recording stimulus: its index in the file and its command current."""

    index: int
    protocol: Protocol


@dataclass(frozen=True)
class ExperimentSimulation:
    """What the simulations of an experiment depend on besides theta and their seeds.

    Attributes
    ----------
    simulator : the fidelity's simulator and its step.
    model : the neuron model and its fixed constants.
    stimulus : the current step, or the recording's chosen sweeps (in x's order: every
        row is simulated under each).
    features : feature names (``mfnpe.simulation.features``), per sweep.
    trace_dt : keep traces every ``trace_dt`` ms (a multiple of ``simulator.dt``); None:
        keep none.
    """

    simulator: SimulatorSettings
    model: FixedModel
    stimulus: Stimulus | tuple[Sweep, ...]
    features: tuple[str, ...]
    trace_dt: float | None = None

    @property
    def sweeps(self) -> list[int] | None:
        """The sweep indices of a recording stimulus, in order; None for the step."""
        if isinstance(self.stimulus, Stimulus):
            return None
        return [sweep.index for sweep in self.stimulus]

    def stimuli(self) -> list[tuple[Stimulus | Protocol, Stimulus | Windows]]:
        """``[(stimulus, feature windows)]`` of every simulated sweep, in order: the step
        (its own windows) or each sweep's protocol and
        ``mfnpe.stimulus.protocols.feature_windows``."""
        if isinstance(self.stimulus, Stimulus):
            return [(self.stimulus, self.stimulus)]
        return [(sweep.protocol, feature_windows(sweep.protocol)) for sweep in self.stimulus]

    def feature_names(self) -> list[str]:
        """The column names of x (``mfnpe.stimulus.sweeps.feature_names``)."""
        return feature_names(self.features, self.sweeps)

    def with_traces(self, trace_dt: float | None, features: tuple[str, ...] | None = None
                    ) -> ExperimentSimulation:
        """The same experiment keeping traces every ``trace_dt`` ms (None: none), and
        computing ``features`` when given."""
        return replace(self, trace_dt=trace_dt,
                       features=self.features if features is None else tuple(features))

    @classmethod
    def from_dict(cls, plain: Mapping) -> ExperimentSimulation:
        """From the plain form (:meth:`to_dict`; shards written before store it). Raises
        ``ValueError`` naming a missing or unknown key."""
        keys = ("simulator", "model", "stimulus", "features", "trace_dt")
        missing = [key for key in keys if key not in plain]
        if missing:
            raise ValueError(f"simulation settings lack {missing}; they hold {list(plain)}")
        stimulus = plain["stimulus"]
        if "protocols" in stimulus:
            stimulus = tuple(Sweep(int(p["sweep"]), from_settings(p))
                             for p in stimulus["protocols"])
        else:
            unknown = sorted(set(stimulus) - set(STEP_KEYS))
            if unknown:
                raise ValueError(f"unknown step stimulus key(s) {unknown}; known: {STEP_KEYS}")
            stimulus = Stimulus(**stimulus)
        return cls(SimulatorSettings.from_dict(plain["simulator"]),
                   FixedModel.from_dict(plain["model"]), stimulus,
                   tuple(plain["features"]), plain["trace_dt"])

    def to_dict(self) -> dict:
        """The plain form: ``{"simulator", "model", "stimulus", "features", "trace_dt"}``,
        the step as ``{duration, t_on, t_off}`` [ms] or the sweeps as ``{"protocols":
        [...]}`` (``mfnpe.stimulus.sweeps``)."""
        if isinstance(self.stimulus, Stimulus):
            stimulus = {key: getattr(self.stimulus, key) for key in STEP_KEYS}
        else:
            stimulus = {"protocols": [to_settings(s.protocol, s.index) for s in self.stimulus]}
        return {
            "simulator": self.simulator.to_dict(),
            "model": self.model.to_dict(),
            "stimulus": stimulus,
            "features": list(self.features),
            "trace_dt": self.trace_dt,
        }
