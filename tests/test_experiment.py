"""The experiment's simulation as one value (mfnpe.simulation.experiment): its plain form is
exactly what the rules' params and the shards held before it existed."""

import dataclasses

import pytest

from mfnpe.plan import shards
from mfnpe.plan.config import validate_config
from mfnpe.simulation.experiment import (ExperimentSimulation, FixedModel, SimulatorSettings,
                                         Sweep)
from mfnpe.stimulus.protocols import Epoch, Protocol
from mfnpe.stimulus.step import Stimulus
from workflow_helpers import CONFIG_SCHEMA, ROOT, config_check_tool

TINY_CONFIGS = [["tiny.yaml"], ["tiny.yaml", "tiny_model_file.yaml"]]


def legacy_simulation_settings(config, pool):
    """``mfnpe.plan.shards.simulation_settings`` as it was written before the value (the
    params every existing run's shards were made under)."""
    from mfnpe.names import FIDELITY
    from mfnpe.plan.config import simulator_settings
    from mfnpe.stimulus.sweeps import simulation_stimulus
    inferred = set(config["prior"])
    return {
        "simulator": simulator_settings(config, FIDELITY[pool]),
        "model": {k: v for k, v in config["model"].items() if k not in inferred},
        "stimulus": simulation_stimulus(config["stimulus"]),
        "features": list(config["features"]),
        "trace_dt": config["traces"]["dt"] if pool in config["traces"]["pools"] else None,
    }


@pytest.mark.parametrize("files", TINY_CONFIGS)
@pytest.mark.parametrize("pool", shards.POOLS)
def test_the_plain_form_is_todays_params_to_the_key_order(files, pool):
    config = config_check_tool().merged_config([ROOT / "tests" / "configs" / f for f in files])
    expected = legacy_simulation_settings(config, pool)
    found = shards.simulation_settings(config, pool)
    # Snakemake compares params by repr: the order of the keys counts, and so do the types
    assert repr(found) == repr(expected)
    experiment = shards.experiment_simulation(config, pool)
    assert ExperimentSimulation.from_dict(found) == experiment
    assert isinstance(experiment.stimulus, Stimulus) and experiment.sweeps is None
    assert experiment.feature_names() == list(config["features"])


def test_a_recording_stimulus_is_its_sweeps_protocols_and_round_trips():
    plain_sweeps = [{"sweep": 3, "duration": 150.0, "holding": 0.0,
                     "epochs": [[46.85, 103.15, 200.0]]},
                    {"sweep": 4, "duration": 150.0, "holding": -5.0,
                     "epochs": [[10.0, 5.0, 0.0], [46.85, 103.15, 300.0]]}]
    plain = {"simulator": {"name": "current_noise", "dt": 0.025, "sigma": 0.5},
             "model": {"gL": 0.3, "file": "m.py", "area": 2000.0},
             "stimulus": {"protocols": plain_sweeps},
             "features": ["spike_count", "rest_mean"], "trace_dt": 0.1}
    experiment = ExperimentSimulation.from_dict(plain)
    assert repr(experiment.to_dict()) == repr(plain)
    assert experiment.simulator == SimulatorSettings("current_noise", 0.025, (("sigma", 0.5),))
    assert experiment.model.reference == "m.py"
    assert experiment.model.constants == {"gL": 0.3, "area": 2000.0}
    assert experiment.sweeps == [3, 4]
    assert experiment.stimulus[1] == Sweep(4, Protocol(150.0, -5.0, (
        Epoch(10.0, 5.0, 0.0), Epoch(46.85, 103.15, 300.0))))
    assert experiment.feature_names() == ["spike_count@3", "rest_mean@3",
                                          "spike_count@4", "rest_mean@4"]
    stimuli = experiment.stimuli()
    assert [s for s, _ in stimuli] == [sweep.protocol for sweep in experiment.stimulus]
    assert stimuli[1][1].t_on == 46.85  # the stimulus window: the longest epoch


def test_the_value_is_frozen_and_traces_are_a_copy():
    experiment = ExperimentSimulation(SimulatorSettings("markov", 0.01),
                                      FixedModel((("area", 100.0),)), Stimulus(60.0, 5.0, 55.0),
                                      ("spike_count",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        experiment.trace_dt = 0.1
    kept = experiment.with_traces(0.1, features=())
    assert (kept.trace_dt, kept.features) == (0.1, ()) and experiment.trace_dt is None
    assert experiment.model.reference is None  # the default model


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("trace_dt"), r"simulation settings lack \['trace_dt'\]"),
    (lambda p: p["stimulus"].update(amplitude=3.0), r"unknown step stimulus key\(s\) \['amplitude'\]"),
])
def test_bad_plain_settings_are_named(change, message):
    config = validate_config({}, CONFIG_SCHEMA)
    plain = shards.simulation_settings(config, "lf")
    change(plain)
    with pytest.raises(ValueError, match=message):
        ExperimentSimulation.from_dict(plain)
