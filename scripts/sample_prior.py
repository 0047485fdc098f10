"""Rule sample_prior: draw one shard's parameters from the box prior."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging

from mfnpe.io.shards import write_prior_shard
from mfnpe.simulation.shard import sample_prior_shard

settings = snakemake.params.settings
theta, names = sample_prior_shard(settings)
write_prior_shard(snakemake.output.theta, theta, names, settings)
logging.info("drew %d parameter sets of %s for %s shard %d", len(theta), names, settings["pool"], settings["shard"])
