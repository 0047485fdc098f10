"""Rule lf_traces: LF traces at the first test parameters, to show beside the HF ones."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.io.shards import read_prior_shard, write_sim_shard
from mfnpe.seeds import simulation_seeds
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.simulation.shard import simulate_shard

theta, names, identity = read_prior_shard(snakemake.input.theta)  # seed, pool, shard...
theta = theta[: snakemake.params.n]
experiment = ExperimentSimulation.from_dict(snakemake.params.settings)
sim_seeds = simulation_seeds(identity["seed"], identity["pool"], identity["shard"], len(theta))
shard = simulate_shard(theta, names, experiment, sim_seeds, threads=snakemake.threads,
                       provenance=identity)
write_sim_shard(snakemake.output.traces, shard)
