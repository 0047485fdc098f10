"""How each feature spreads over a config's prior: which ones to put on a log scale
(``inference.network.log_features``, docs/method.md, "Inference").

    OMP_NUM_THREADS=1 .venv/bin/python tools/feature_spread.py config/config.yaml \
        config/recording.yaml [--n 2000] [--seed 1]

Simulates ``--n`` LF draws of the prior under the config's stimulus (a recording's sweeps
included) and prints per feature of the first sweep: the 1, 25, 50, 75 and 99 % points, the
largest value, the SD and the interquartile range in SDs — as the network's z-scoring sees
it. A feature whose middle half spans a small part of one SD (an IQR of 0.2 SD, say)
while its largest values lie many SDs out is one the flow barely resolves as it is.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from real_cell import Simulator, load_recording

    from mfnpe.stimulus.sweeps import split_name

    config, prior, names, _, _ = load_recording(args.configs)
    theta = prior.sample(args.n, np.random.default_rng(args.seed))
    x = Simulator(config, "lf", prior.names, "spread")(theta)
    x = x[np.isfinite(x).all(1)]
    sweep = split_name(names[0])[1]  # the first sweep's columns (None for the step)
    first = [j for j, name in enumerate(names) if split_name(name)[1] == sweep]
    print(f"{len(x)} valid LF simulations of {args.n} prior draws")
    print(f"{'feature':24s} {'1 %':>9s} {'25 %':>9s} {'50 %':>9s} {'75 %':>9s} {'99 %':>9s} "
          f"{'max':>9s} {'SD':>9s} {'IQR/SD':>7s}")
    for j in first:
        column = x[:, j]
        q = np.percentile(column, [1, 25, 50, 75, 99])
        sd = column.std()
        spread = (q[3] - q[1]) / sd if sd > 0 else float("nan")
        print(f"{names[j]:24s} " + " ".join(f"{v:9.3g}" for v in (*q, column.max(), sd))
              + f" {spread:7.2f}")


if __name__ == "__main__":
    main()
