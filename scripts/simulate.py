"""Rule simulate: simulate one shard and store features, validity and (optionally) traces."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging

from mfnpe.io.shards import read_prior_shard, write_sim_shard
from mfnpe.simulation.shard import simulate_shard

theta, names, prior_settings = read_prior_shard(snakemake.input.theta)
settings = {**prior_settings, **snakemake.params.settings}
shard = simulate_shard(theta, names, settings, threads=snakemake.threads)
write_sim_shard(snakemake.output.shard, shard)
logging.info("simulated %s shard %d with %s: %s", settings["pool"], settings["shard"],
             settings["simulator"], shard.stats)
