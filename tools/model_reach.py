"""Can the model reproduce the recording at all? The share of prior draws (or of a saved
posterior's draws) whose simulations fall within the measure of fit's tolerances of the
recording, feature by feature and jointly, and the draws that do.

    .venv/bin/python tools/model_reach.py config/config.yaml config/recording_18711001.yaml \
        config/recording_sequential.yaml --n 10000 [--posterior FILE.pt] [--pool lf] \
        [--out reach.npz]

A model that no prior draw brings within tolerance of the recorded spike counts cannot be
rescued by inference; one that reaches it with a small share of its draws is a matter of
spending simulations there (sequential rounds) and of features that point there. The
tolerances are the measure of fit's (``mfnpe.observation.fit.TOLERANCES``); the simulator is
the config's ``--pool`` one (``lf`` by default: cheap, and its spike counts are within a few
% of HF's on these cells, docs/results.md). Prints the share within tolerance per feature,
jointly on every sweep's spike count, on the acceptance's three (spike count, rest, AP
peak) and on every feature, and the most common spike-count tuples; ``--out`` keeps theta,
x and the recording's x in an ``.npz``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from mfnpe import seeds
from mfnpe.inference import Posterior
from mfnpe.observation.fit import tolerance
from mfnpe.observation.passive import area_prior_from_recording
from mfnpe.observation.stimulus import resolve as resolve_recording
from mfnpe.observation.sweep_recordings import observed_features, read_observed
from mfnpe.observation.sweeps import feature_names, split_name, sweeps_of
from mfnpe.plan import observations as plan_observations
from mfnpe.plan import shards
from mfnpe.plan.config import merge_files, resolve_recording as resolve_config_recording
from mfnpe.prior import BoxPrior
from mfnpe.simulation.shard import simulate_shard

ACCEPTANCE = ("spike_count", "rest_mean", "ap_peak")
"""The acceptance measure's features (the measure of fit, docs/recordings.md)."""


def within_tolerance(x: np.ndarray, x_o: np.ndarray, names) -> np.ndarray:
    """(n, f) bool: simulation i within feature j's tolerance of the recording (NaN: not)."""
    return np.stack([tolerance(name).within(x[:, j], x_o[j]) for j, name in enumerate(names)],
                    axis=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--n", type=int, default=10000, help="draws to simulate")
    parser.add_argument("--posterior", default=None,
                        help="a saved posterior (tools/real_cell.py --save) instead of the prior")
    parser.add_argument("--pool", default="lf", choices=("lf", "hf"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    config = merge_files(args.configs, area_measure=area_prior_from_recording)
    resolve_config_recording(config, args.configs, resolve_recording)
    prior = BoxPrior.from_config(config["prior"])
    names = feature_names(list(config["features"]), sweeps_of(config["stimulus"]))
    protocol = plan_observations.protocol(config)
    x_o = observed_features(read_observed(config["stimulus"]["recording"], protocol),
                            config["features"], protocol)
    if args.posterior:
        theta = Posterior.load(args.posterior, prior=prior).sample(x_o, args.n, seed=args.seed)
    else:
        theta = prior.sample(args.n, np.random.default_rng(args.seed))
    settings = shards.simulation_settings(config, args.pool)
    cpu = time.process_time()
    x = simulate_shard(theta, prior.names, settings,
                       sim_seeds=seeds.observation_seeds(args.seed, "predictive", "reach",
                                                         args.n, 0)).x
    cpu = time.process_time() - cpu

    within = within_tolerance(x, x_o, names)
    base = [split_name(name)[0] for name in names]
    counts = [j for j, b in enumerate(base) if b == "spike_count"]
    key = [j for j, b in enumerate(base) if b in ACCEPTANCE]
    print(f"{args.n} draws from {args.posterior or 'the prior'}, {args.pool} simulator, "
          f"{cpu:.0f} s CPU; diverged {np.mean(~np.isfinite(x).all(1)):.3f}")
    print(f"{'feature':28s} {'recorded':>10s} {'within':>7s}")
    for j, name in enumerate(names):
        print(f"{name:28s} {x_o[j]:10.3f} {within[:, j].mean():7.4f}")
    for label, columns in (("every spike count", counts), ("spike count, rest, AP peak", key),
                           ("every feature", list(range(len(names))))):
        hit = within[:, columns].all(1)
        print(f"within on {label}: {hit.mean():.4f} ({hit.sum()} draws)")
    tuples = Counter(map(tuple, np.nan_to_num(x[:, counts], nan=-1).astype(int).tolist()))
    print("recorded spike counts", tuple(int(x_o[j]) for j in counts), "; most common:",
          tuples.most_common(8))
    hit = within[:, key].all(1)
    if hit.any():
        np.set_printoptions(suppress=True, linewidth=160, precision=4, threshold=10**6)
        print("draws within on spike count, rest and AP peak:", list(prior.names))
        print(theta[hit][:20])
    if args.out:
        np.savez(args.out, theta=theta, x=x, x_o=x_o, feature_names=names,
                 param_names=list(prior.names))


if __name__ == "__main__":
    main()
