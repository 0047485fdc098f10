"""Rule sequential_proposal: one round's parameters for one chain (recording, method,
seed), written as the round's parameter shards."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.inference.sequential import Ensemble, propose
from mfnpe.io.shards import write_prior_shard
from mfnpe.prior import BoxPrior
from mfnpe.observation.observed import observed_features
from mfnpe.recordings.sweeps import read_observed
from mfnpe.observation.sequential import algorithm, job_seed, load_networks
from mfnpe.plan.sequential import proposal_settings, start_settings

chain, round_ = snakemake.params.chain, snakemake.params.round
settings = algorithm(chain)
recording = read_observed(snakemake.input.recording, chain["protocol"])
x_o = observed_features(recording, chain["features"], chain["protocol"])
start = load_networks(snakemake.input.start,
                      start_settings(chain, round_, range(len(snakemake.input.start))))
prior = BoxPrior.from_config(chain["prior"])
proposal = propose(prior, Ensemble(start) if start else None, x_o,
                   settings.simulations_per_round, settings.acquired(chain["method"], round_),
                   settings, job_seed(chain, round_, 0, "proposal"))
for shard, (path, (start_row, stop_row)) in enumerate(
        zip(snakemake.output.theta, snakemake.params.rows, strict=True)):
    rows = slice(start_row, stop_row)
    stats = {"acceptance_rate": proposal.acceptance_rate,
             "acquired": proposal.acquired[rows].astype(int).tolist(),
             "x_observed": x_o.tolist()}
    write_prior_shard(path, proposal.theta[rows], prior.names,
                      proposal_settings(chain, round_, shard), stats)
logging.info("%s %s seed %d round %d: %d parameters, %d acquired, %.1f%% of the prior box "
             "accepted", chain["recording"], chain["method"], chain["seed"], round_,
             len(proposal.theta), int(proposal.acquired.sum()), 100 * proposal.acceptance_rate)
