"""Replay one sequential proposal job of a finished run in this process: its CPU, peak
memory and whether it draws the parameters the run drew.

    OMP_NUM_THREADS=1 /usr/bin/time -f "%M KB" .venv/bin/python tools/replay_proposal.py \\
        results/sequential/CELL/METHOD/seed-S/round-R/theta/shard-0.h5 START.pt

START.pt is the network the round started from: the previous round's
``results/sequential/.../round-(R-1)/member-0.pt``, or for round 1 the LF-pretrained
``results/models/lf_npe/...pt``. The chain's settings, the round and the observation's
features come from the shard itself (the proposal job stores them), the seed from the
chain as the job derives it; acquisition (A-MF-TSNPE) is not replayed.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

import h5py
import numpy as np
import torch

from mfnpe.inference.posterior import Posterior
from mfnpe.inference.sequential import Ensemble, propose
from mfnpe.io.shards import read_prior_shard
from mfnpe.observation.sequential import algorithm, job_seed
from mfnpe.prior import BoxPrior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shard", help="a round's first parameter shard (theta/shard-0.h5)")
    parser.add_argument("start", help="the network the round started from (.pt)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    drawn, _, identity = read_prior_shard(args.shard)
    with h5py.File(args.shard) as handle:
        x_o = np.asarray(json.loads(handle.attrs["stats"])["x_observed"])
    if identity["shard"] != 0:
        raise SystemExit(f"{args.shard}: give the round's first shard, shard-0.h5")
    chain, round_ = identity["chain"], identity["round"]
    settings = algorithm(chain)
    cpu = time.process_time()
    proposal = propose(BoxPrior.from_config(chain["prior"]),
                       Ensemble([Posterior.load(args.start)]), x_o,
                       settings.simulations_per_round, 0, settings,
                       job_seed(chain, round_, 0, "proposal"))
    print(f"{chain['recording']} {chain['method']} round {round_}: "
          f"{time.process_time() - cpu:.0f} s of CPU, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
          f"{100 * proposal.acceptance_rate:.3g} % of the prior accepted; the shard's rows "
          f"drawn again: {np.array_equal(proposal.theta[:len(drawn)], drawn)}")


if __name__ == "__main__":
    main()
