"""Rule predictive_check: HF simulations at posterior draws of one recording (the amortized
predictive-check models and, where the recording has sequential chains, each chain's final
round of seed 0), and a few at each model's most probable draw (the MAP), with what their traces tell beyond the features
(spikes before the stimulus, depolarisation block: mfnpe.observation.fit)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging

import numpy as np

from mfnpe.observation.fit import MAP_SIMULATIONS, sweep_windows
from mfnpe.observation.measures import recorded_measures, trace_measures
from mfnpe.observation.posterior import (PredictiveCheck, PredictiveSet, model_index, read_observation,
                           write_predictive)
from mfnpe.observation.predictive import predictive_simulations
from mfnpe.observation.observed import observed_trace
from mfnpe.recordings.sweeps import read_observed
from mfnpe.simulation.experiment import ExperimentSimulation

settings = snakemake.params.settings
recording = read_observed(snakemake.input.recording, settings["protocol"])
sources = [(snakemake.input.posterior, settings["runs"])]  # the amortized models
if snakemake.input.sequential:  # and the sequential chains' final rounds
    sources.append((snakemake.input.sequential[0], snakemake.params.sequential_runs))
models = []  # (posterior file's contents, run)
for path, runs in sources:
    posterior = read_observation(path)
    if posterior.map_theta is None:
        raise ValueError(f"{path} holds no most probable draw (written before the measure "
                         "of fit): delete it so that the workflow draws it again")
    models += [(posterior, run) for run in runs]
amortized = models[0][0]
experiment = ExperimentSimulation.from_dict(settings["simulation"])
windows = sweep_windows(settings["simulation"]["stimulus"])
sets, map_sets = {}, {}
for posterior, run in models:
    index = model_index(posterior, run)
    theta = posterior.samples[index, : settings["n_simulations"]]
    shard = predictive_simulations(theta, posterior.param_names, experiment, settings["seed"],
                                   recording.name, run, snakemake.threads)
    sets[run["method"]] = PredictiveSet(
        run, shard.theta, shard.x, shard.valid, shard.traces[: settings["n_traces"]],
        trace_measures(shard.traces, experiment.trace_dt, windows))
    logging.info("%s: %d simulations at %s draws, %d diverged", recording.name, len(theta),
                 run, shard.stats["n_invalid"])
    at_map = np.repeat(posterior.map_theta[index][None], MAP_SIMULATIONS, axis=0)
    shard = predictive_simulations(at_map, posterior.param_names, experiment, settings["seed"],
                                   recording.name, run, snakemake.threads, purpose="map")
    map_sets[run["method"]] = PredictiveSet(
        run, shard.theta, shard.x, shard.valid, shard.traces,
        trace_measures(shard.traces, experiment.trace_dt, windows))
    logging.info("%s: %d simulations at the MAP of %s (%s), %d diverged", recording.name,
                 MAP_SIMULATIONS, run,
                 dict(zip(posterior.param_names, posterior.map_theta[index].round(4))),
                 shard.stats["n_invalid"])
trace = observed_trace(recording, experiment.trace_dt)  # the sweeps' joined in time
check = PredictiveCheck(recording.name, amortized.x, trace,
                        experiment.trace_dt, amortized.feature_names, amortized.param_names,
                        sets, settings, map_sets,
                        recorded_measures(trace, experiment.trace_dt, windows, recording.name))
write_predictive(snakemake.output.ppc, check)
