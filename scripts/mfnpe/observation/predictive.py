"""HF re-simulation for observations: synthetic example recordings with known parameters,
and posterior predictive simulations at posterior draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mfnpe import seeds
from mfnpe.io.shards import SimShard
from mfnpe.simulation.shard import simulate_shard
from mfnpe.stimulus.protocols import from_settings
from mfnpe.recordings.step import Recording
from mfnpe.recordings.sweeps import SweepRecording
from mfnpe.stimulus.sweeps import is_recording


def synthetic_recording(settings: Mapping) -> Recording | SweepRecording:
    """One HF simulation at an example's parameters, as a recording with its true theta:
    under the step a :class:`Recording`, under a recording's sweeps a
    :class:`SweepRecording` (every sweep at that theta).

    ``settings``: ``mfnpe.plan.observations.example_settings`` (name, theta {name: value},
    simulator, model, stimulus, seed). Raises ``ValueError`` if the simulation diverged.
    """
    names = list(settings["theta"])
    theta = np.array([[settings["theta"][name] for name in names]], dtype=float)
    dt = settings["simulator"]["dt"]
    shard = simulate_shard(
        theta, names, {**settings, "features": [], "trace_dt": dt},
        sim_seeds=seeds.observation_seeds(settings["seed"], "example", settings["name"], 1))
    if not shard.valid[0]:
        raise ValueError(f"example {settings['name']}: the HF simulation at {settings['theta']} "
                         "diverged")
    voltage = shard.traces[0].astype(float)
    true_theta = {name: float(value) for name, value in settings["theta"].items()}
    if is_recording(settings["stimulus"]):
        plain = settings["stimulus"]["protocols"]
        ends = np.cumsum([from_settings(p).n_steps(dt) for p in plain])[:-1]
        return SweepRecording(settings["name"], [int(p["sweep"]) for p in plain],
                              np.split(voltage, ends), [dt] * len(plain), true_theta)
    amplitude = settings["theta"].get("amplitude", settings["model"]["amplitude"])
    stimulus = {"t_on": settings["stimulus"]["t_on"], "t_off": settings["stimulus"]["t_off"],
                "amplitude": amplitude}
    return Recording(settings["name"], np.arange(len(voltage)) * dt, voltage, dt, stimulus,
                     true_theta)


def predictive_simulations(theta: np.ndarray, param_names: Sequence[str], settings: Mapping,
                           name: str, run: Mapping, threads: int = 1,
                           purpose: str = "predictive") -> SimShard:
    """HF simulations at posterior draws ``theta`` (n, d) of model ``run`` for recording
    ``name``: features (NaN rows where diverged), validity and traces every
    ``settings['trace_dt']`` ms. ``settings``: simulator, model, stimulus, features,
    trace_dt and the master ``seed``. ``purpose``: ``"predictive"`` (at posterior draws) or
    ``"map"`` (repeats of the posterior's most probable point): independent seed streams."""
    if purpose not in ("predictive", "map"):
        raise ValueError(f"purpose must be 'predictive' or 'map', not {purpose!r}")
    sim_seeds = seeds.observation_seeds(settings["seed"], purpose, name, len(theta),
                                        run["method"], run["n_lf"], run["n_hf"], run["seed"])
    return simulate_shard(theta, param_names, settings, threads, sim_seeds=sim_seeds)
