"""Rule simulate: simulate one shard and store features, validity and (optionally) traces."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging

from mfnpe.io.shards import read_prior_shard, write_sim_shard
from mfnpe.seeds import simulation_seeds
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.simulation.shard import simulate_shard

theta, names, identity = read_prior_shard(snakemake.input.theta)  # seed, pool, shard...
experiment = ExperimentSimulation.from_dict(snakemake.params.settings)
sim_seeds = simulation_seeds(identity["seed"], identity["pool"], identity["shard"], len(theta))
shard = simulate_shard(theta, names, experiment, sim_seeds, threads=snakemake.threads,
                       provenance=identity)
write_sim_shard(snakemake.output.shard, shard)
logging.info("simulated %s shard %d with %s: %s", identity["pool"], identity["shard"],
             experiment.simulator, shard.stats)
