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
from real_cell import KEY_FEATURES, Simulator, load_recording

from mfnpe.inference import Posterior
from mfnpe.observation.fit import within_tolerances
from mfnpe.stimulus.sweeps import split_name

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

    config, prior, names, _, x_o = load_recording(args.configs)
    if args.posterior:
        theta = Posterior.load(args.posterior, prior=prior).sample(x_o, args.n, seed=args.seed)
    else:
        theta = prior.sample(args.n, np.random.default_rng(args.seed))
    cpu = time.process_time()
    x = Simulator(config, args.pool, prior.names, "reach")(theta)
    cpu = time.process_time() - cpu

    within = within_tolerances(x_o, names, x)
    base = [split_name(name)[0] for name in names]
    counts = [j for j, b in enumerate(base) if b == "spike_count"]
    key = [j for j, b in enumerate(base) if b in KEY_FEATURES]
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
