"""Rule observe: check a recording, compute its features, judge whether they are typical of
the reference pool's simulations (LF or HF test) and draw from every model."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.inference import Posterior
from mfnpe.observation.misspecification import typicality, write_typicality
from mfnpe.observation.posterior import observe, write_observation
from mfnpe.plan.runs import pool_label, prefix_shard_settings
from mfnpe.recordings.step import true_vector
from mfnpe.observation.observed import observed_features
from mfnpe.recordings.sweeps import read_observed
from mfnpe.simulation.pools import load_prefix

settings = snakemake.params.settings
# x's columns: the features, or under a recording stimulus every feature of every sweep
names = settings.get("feature_names", settings["features"])
recording = read_observed(snakemake.input.recording, settings["protocol"])
x = observed_features(recording, settings["features"], settings["protocol"])
models = [Posterior.load(path, model["settings"])
          for path, model in zip(snakemake.input.models, settings["models"], strict=True)]
for path, model in zip(snakemake.input.models, models):
    if model.feature_names != names:
        raise ValueError(f"{path}: trained on features {model.feature_names}, not {names}")
theta = true_vector(recording, list(models[0].prior.names))
result = observe(recording.name, str(recording.path), x, theta, models,
                 [model["run"] for model in settings["models"]], settings["posterior_samples"],
                 settings["seed"])
result.settings = settings
write_observation(snakemake.output.posterior, result)
logging.info("%s: features %s; true theta %s; HPD levels %s", recording.path,
             {name: round(float(v), 3) for name, v in zip(names, x)},
             recording.true_theta,
             result.hpd_level.round(3))

reference_pool = snakemake.params.reference
reference = load_prefix(snakemake.input.reference, prefix_shard_settings(reference_pool),
                        reference_pool["n"], pool_label(reference_pool))
pool = {"lf": "LF", "test": "HF test"}[snakemake.params.reference["pool"]]
if reference.feature_names != names:
    raise ValueError(f"{pool} pool: features {reference.feature_names}, not {names}")
alpha = snakemake.params.alpha
verdict = typicality(reference.x, x, names, alpha)
verdict.settings = {"reference": snakemake.params.reference, "alpha": alpha}
write_typicality(snakemake.output.typicality, verdict)
if 1 / (verdict.n_reference + 1) >= alpha:
    logging.warning("%s: with %d reference simulations the smallest attainable p-value is "
                    "%.3g, not below observations.misspecification_alpha = %g: no recording "
                    "can be flagged (raise observations.misspecification_reference.n)",
                    recording.name, verdict.n_reference, 1 / (verdict.n_reference + 1), alpha)
if verdict.flagged:
    logging.warning("%s: the recording's features are atypical of the model's simulations "
                    "(k-NN score %.3g, p = %.3g < alpha = %g among %d %s simulations): "
                    "the model may not produce this trace, so its posteriors are not to be "
                    "trusted. Most atypical: %s", recording.name, verdict.score,
                    verdict.p_value, alpha, verdict.n_reference, pool,
                    verdict.describe_features())
else:
    logging.info("%s: features typical of the model's simulations (k-NN score %.3g, p = %.3g "
                 ">= alpha = %g among %d %s simulations); most atypical: %s",
                 recording.name, verdict.score, verdict.p_value, alpha, verdict.n_reference,
                 pool, verdict.describe_features())
