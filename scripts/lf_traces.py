"""Rule lf_traces: LF traces at the first test parameters, to show beside the HF ones."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.io.shards import read_prior_shard, write_sim_shard
from mfnpe.simulation.shard import simulate_shard

theta, names, prior_settings = read_prior_shard(snakemake.input.theta)
settings = {**prior_settings, **snakemake.params.settings}
shard = simulate_shard(theta[: snakemake.params.n], names, settings, threads=snakemake.threads)
write_sim_shard(snakemake.output.traces, shard)
