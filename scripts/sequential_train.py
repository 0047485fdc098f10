"""Rule sequential_train: one member of a chain after a round, trained on every round's
HF simulations so far, from the previous round's weights (or the pretrained ones)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.simulation.pools import load_shards
from mfnpe.inference import NetworkSettings, TrainingSettings
from mfnpe.inference.sequential import train_member
from mfnpe.prior import BoxPrior
from mfnpe.observation.sequential import job_seed, load_networks
from mfnpe.simulation.experiment import ExperimentSimulation
from mfnpe.plan.sequential import member_settings, shard_settings, start_settings

chain, round_, member = snakemake.params.chain, snakemake.params.round, snakemake.params.member
expected = [shard_settings(chain, r, k) for r, k in snakemake.params.shards]
data = load_shards(snakemake.input.sims, expected,
                   f"{chain['recording']} {chain['method']} rounds 1-{round_}")
start = load_networks(snakemake.input.start,
                      start_settings(chain, round_, [member] * len(snakemake.input.start)))
seed = job_seed(chain, round_, member, "training")
logging.info("%s %s seed %d round %d member %d: %d valid of %d simulations, %s, seed %d",
             chain["recording"], chain["method"], chain["seed"], round_, member,
             len(data.theta), data.n, "from scratch" if not start else "continued", seed)
posterior = train_member(data.theta, data.x, BoxPrior.from_config(chain["prior"]),
                         start[0] if start else None,
                         NetworkSettings.from_dict(chain["network"]),
                         TrainingSettings.from_dict(chain["training"]), seed,
                         chain.get("standardization", "auto"),
                         feature_names=ExperimentSimulation.from_dict(
                             chain["simulation"]).feature_names(),
                         settings=member_settings(chain, round_, member))
posterior.save(snakemake.output.model)
