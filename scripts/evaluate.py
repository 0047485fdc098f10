"""Rule evaluate: one model on the HF test pool (NLTP, NRMSE, contraction, SBC, TARP)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.simulation.pools import load_prefix
from mfnpe.evaluation.test_set import evaluate_posterior, write_evaluation
from mfnpe.inference import Posterior
from mfnpe.plan.runs import pool_label, prefix_shard_settings
from mfnpe.seeds import run_seed

settings, run = snakemake.params.settings, snakemake.params.run
model = Posterior.load(snakemake.input.model, snakemake.params.model_settings)
test = load_prefix(snakemake.input.test, prefix_shard_settings(settings["test"]),
                   settings["test"]["n"], pool_label(settings["test"]))
if test.feature_names != model.feature_names or test.param_names != list(model.prior.names):
    raise ValueError(f"{snakemake.input.model}: trained on features {model.feature_names} and "
                     f"parameters {list(model.prior.names)}, but the test pool has "
                     f"{test.feature_names} and {test.param_names}")
evaluation = evaluate_posterior(model, test.theta, test.x, settings["posterior_samples"],
                                keep=settings["pairplot_observations"],
                                seed=run_seed(settings["seed"], "evaluation", **run),
                                level=settings["calibration_level"])
evaluation.run = run
evaluation.settings = {"evaluation": settings, "model": snakemake.params.model_settings}
write_evaluation(snakemake.output.evaluation, evaluation)
logging.info("%s on %d test simulations (%d invalid dropped): %s", run, len(test.theta),
             test.n_invalid, evaluation.metrics)
