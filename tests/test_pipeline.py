"""The shard runner: diverged simulations are flagged, counted and never get features."""

import numpy as np
import pytest

from mfnpe.plan import shards
from mfnpe.plan.config import validate_config
from mfnpe.seeds import simulation_seeds
from workflow_helpers import CONFIG_SCHEMA
from mfnpe.simulation.shard import simulate_shard


@pytest.mark.parametrize("simulator, dt", [("deterministic", 0.025), ("markov", 0.01)])
def test_diverged_simulations_are_invalid_nan_and_counted(simulator, dt):
    # No channels and no leak: a 1e5 µA/cm² step charges the membrane to ~1e6 mV.
    config = validate_config({
        "model": {"gNa": 0.0, "gK": 0.0},
        "stimulus": {"duration": 20.0, "t_on": 5.0, "t_off": 15.0},
        "prior": {"amplitude": [0.0, 1e5], "gL": [1e-3, 1.0]},
        "simulators": {"lf": {"name": simulator, "dt": dt}},
    }, CONFIG_SCHEMA)
    theta = np.array([[5.0, 0.3], [1e5, 1e-3], [10.0, 0.5], [9e4, 1e-3]])
    shard = simulate_shard(theta, ["amplitude", "gL"], shards.experiment_simulation(config, "lf"),
                           simulation_seeds(config["seed"], "lf", 0, len(theta)))
    assert shard.valid.tolist() == [True, False, True, False]
    assert np.isnan(shard.x[~shard.valid]).all()
    assert np.isfinite(shard.x[shard.valid]).all()
    assert shard.stats["n_invalid"] == 2
