"""Rule predictive_check: HF simulations at posterior draws of one recording."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging

from mfnpe.observation.posterior import (PredictiveCheck, PredictiveSet, model_index, read_observation,
                           write_predictive)
from mfnpe.observation.predictive import predictive_simulations
from mfnpe.observation.sweep_recordings import observed_trace, read_observed

settings = snakemake.params.settings
recording = read_observed(snakemake.input.recording, settings["protocol"])
posterior = read_observation(snakemake.input.posterior)
simulation = {**settings["simulation"], "seed": settings["seed"]}
sets = {}
for run in settings["runs"]:
    theta = posterior.samples[model_index(posterior, run), : settings["n_simulations"]]
    shard = predictive_simulations(theta, posterior.param_names, simulation, recording.name,
                                   run, snakemake.threads)
    sets[run["method"]] = PredictiveSet(run, shard.theta, shard.x, shard.valid,
                                        shard.traces[: settings["n_traces"]])
    logging.info("%s: %d simulations at %s draws, %d diverged", recording.name, len(theta),
                 run, shard.stats["n_invalid"])
trace = observed_trace(recording, simulation["trace_dt"])  # the sweeps' joined in time
check = PredictiveCheck(recording.name, posterior.x, trace,
                        simulation["trace_dt"], posterior.feature_names, posterior.param_names,
                        sets, settings)
write_predictive(snakemake.output.ppc, check)
