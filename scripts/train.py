"""Rules pretrain, finetune and npe: train one posterior on a pool prefix and save it."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.simulation.pools import load_prefix
from mfnpe.inference import NetworkSettings, Posterior, TrainingSettings, finetune, train_npe
from mfnpe.plan.runs import pool_label, prefix_shard_settings
from mfnpe.prior import BoxPrior
from mfnpe.seeds import run_seed

settings, run = snakemake.params.settings, snakemake.params.run
data = load_prefix(snakemake.input.shards, prefix_shard_settings(settings["data"]),
                   settings["data"]["n"], pool_label(settings["data"]))
training = TrainingSettings.from_dict(settings["training"])
seed = run_seed(settings["data"]["seed"], "training", **run)
logging.info("%s: %d valid of the first %d %s simulations, training seed %d", run,
             len(data.theta), data.n, settings["data"]["pool"], seed)
if run["method"] == "mf_npe":
    pretrained = Posterior.load(snakemake.input.pretrained, settings["pretrained"])
    posterior = finetune(pretrained, data.theta, data.x, training, seed=seed,
                         refit_standardization=settings["refit_standardization"],
                         settings=settings)
else:
    prior = BoxPrior.from_config(settings["data"]["prior"])
    posterior = train_npe(data.theta, data.x, prior,
                          NetworkSettings.from_dict(settings["network"]), training, seed=seed,
                          feature_names=data.feature_names, settings=settings)
posterior.save(snakemake.output.model)
