"""HF re-simulation for observations: synthetic example recordings with known parameters,
and posterior predictive simulations at posterior draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mfnpe import seeds
from mfnpe.io.shards import SimShard
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.simulation.shard import simulate_shard
from mfnpe.recordings.step import Recording
from mfnpe.recordings.sweeps import SweepRecording


def synthetic_recording(name: str, theta: Mapping[str, float],
                        experiment: ExperimentSimulation, seed: int
                        ) -> Recording | SweepRecording:
    """One HF simulation of example ``name`` at ``theta`` {parameter: value}, as a recording
    with its true theta: under the step a :class:`Recording`, under a recording's sweeps a
    :class:`SweepRecording` (every sweep at that theta). ``experiment``: the HF simulator,
    model and stimulus (its features and traces are not used: the trace is kept every
    ``dt`` ms); ``seed``: the examples' seed. Raises ``ValueError`` if it diverged."""
    names = list(theta)
    values = np.array([[theta[key] for key in names]], dtype=float)
    dt = experiment.simulator.dt
    shard = simulate_shard(
        values, names, experiment.with_traces(dt, features=()),
        seeds.observation_seeds(seed, "example", name, 1))
    if not shard.valid[0]:
        raise ValueError(f"example {name}: the HF simulation at {dict(theta)} diverged")
    voltage = shard.traces[0].astype(float)
    true_theta = {key: float(value) for key, value in theta.items()}
    if experiment.sweeps is not None:
        ends = np.cumsum([sweep.protocol.n_steps(dt) for sweep in experiment.stimulus])[:-1]
        return SweepRecording(name, experiment.sweeps, np.split(voltage, ends),
                              [dt] * len(experiment.sweeps), true_theta)
    amplitude = theta.get("amplitude", experiment.model.constants["amplitude"])
    stimulus = {"t_on": experiment.stimulus.t_on, "t_off": experiment.stimulus.t_off,
                "amplitude": amplitude}
    return Recording(name, np.arange(len(voltage)) * dt, voltage, dt, stimulus, true_theta)


def predictive_simulations(theta: np.ndarray, param_names: Sequence[str],
                           experiment: ExperimentSimulation, master_seed: int, name: str,
                           run: Mapping, threads: int = 1,
                           purpose: str = "predictive") -> SimShard:
    """HF simulations at posterior draws ``theta`` (n, d) of model ``run`` for recording
    ``name``: features (NaN rows where diverged), validity and traces every
    ``experiment.trace_dt`` ms, seeded from ``master_seed``. ``purpose``: ``"predictive"``
    (at posterior draws) or ``"map"`` (repeats of the posterior's most probable point):
    independent seed streams."""
    if purpose not in ("predictive", "map"):
        raise ValueError(f"purpose must be 'predictive' or 'map', not {purpose!r}")
    sim_seeds = seeds.observation_seeds(master_seed, purpose, name, len(theta),
                                        run["method"], run["n_lf"], run["n_hf"], run["seed"])
    return simulate_shard(theta, param_names, experiment, sim_seeds, threads)
