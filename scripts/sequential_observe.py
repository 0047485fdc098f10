"""Rule sequential_observe: one recording's sequential posteriors after every round
(draws, log q and HPD level of the true theta) and the C2ST between the methods' final
posteriors, the amortized ones of the same HF budget included."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.inference.sequential import Ensemble
from mfnpe.names import RUN_KEYS
from mfnpe.observation.posterior import observe, read_observation, write_observation
from mfnpe.recordings.step import true_vector
from mfnpe.observation.observed import observed_features
from mfnpe.recordings.sweeps import read_observed
from mfnpe.evaluation.sequential import final_c2st
from mfnpe.observation.sequential import load_networks
from mfnpe.plan.sequential import member_settings
from mfnpe.io.tables import write_csv

settings, runs = snakemake.params.settings, snakemake.params.runs
chains = {(chain["method"], chain["seed"]): chain for chain in settings["chains"]}
first = settings["chains"][0]
recording = read_observed(snakemake.input.recording, first["protocol"])
x_o = observed_features(recording, first["features"], first["protocol"])
paths = iter(snakemake.input.models)
models = []
for run in runs:
    chain = chains[run["method"], run["seed"]]
    members = settings["members"][run["method"]]
    expected = [member_settings(chain, run["round"], member) for member in range(members)]
    models.append(Ensemble(load_networks([next(paths) for _ in range(members)], expected)))
theta = true_vector(recording, list(models[0].prior.names))
result = observe(recording.name, str(recording.path), x_o, theta, models,
                 [{key: run[key] for key in RUN_KEYS} for run in runs],
                 settings["posterior_samples"], settings["seed"])
result.settings = settings
write_observation(snakemake.output.posterior, result)
comparisons = final_c2st(result, read_observation(snakemake.input.amortized), settings["seed"])
write_csv(comparisons, snakemake.output.c2st)
logging.info("%s: -log q(true theta) %s; %d C2ST comparisons", recording.path,
             (-result.log_prob_true).round(2), len(comparisons))
