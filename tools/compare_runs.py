"""Compare two complete or partial runs of the same config (e.g. before and after a change
of the simulators): the data of each pool, and the test NLTP of every model both runs have.

    .venv/bin/python tools/compare_runs.py BEFORE_DIR AFTER_DIR

Per pool: simulations, the share valid, mean rest_mean [mV], median rest_std [mV], mean
spike_count, and the share of traces whose rest_std exceeds 5 mV (spikes before the
stimulus). Per model (method, n_lf, n_hf): the mean over seeds of the test NLTP [nats]
(-mean log q(theta | x) over the test set) and the number of seeds found in each run.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np
from mfnpe.evaluation.test_set import read_evaluation
from mfnpe.io.shards import read_sim_shard
from mfnpe.plan.shards import POOLS

SPONTANEOUS_REST_STD = 5.0
"""rest_std [mV] above which a trace fired before the stimulus."""


def pool_summary(run: Path, pool: str) -> tuple[int, float, float, float, float, float]:
    paths = sorted(run.glob(f"results/sims/{pool}/shard-*.h5"))
    shards = [read_sim_shard(path) for path in paths]
    x = np.concatenate([shard.x for shard in shards])
    valid = np.concatenate([shard.valid for shard in shards])
    feature = {name: x[valid, i] for i, name in enumerate(shards[0].feature_names)}
    return (len(x), valid.mean(), feature["rest_mean"].mean(), np.median(feature["rest_std"]),
            feature["spike_count"].mean(), (feature["rest_std"] > SPONTANEOUS_REST_STD).mean())


def test_nltp(run: Path) -> dict[tuple[str, int, int], list[float]]:
    found = collections.defaultdict(list)
    for path in sorted(run.glob("results/eval/*/*.h5")):
        evaluation = read_evaluation(path)
        key = (path.parent.name, evaluation.run["n_lf"], evaluation.run["n_hf"])
        found[key].append(-float(evaluation.log_prob.mean()))
    return found


def main(before: Path, after: Path) -> None:
    print("| pool | run | simulations | valid | rest_mean [mV] | median rest_std [mV] | "
          "spikes | rest_std > 5 mV |\n|---|---|---|---|---|---|---|---|")
    for pool in POOLS:
        for label, run in (("before", before), ("after", after)):
            n, valid, rest, rest_std, spikes, spontaneous = pool_summary(run, pool)
            print(f"| {pool} | {label} | {n} | {valid:.3f} | {rest:.2f} | {rest_std:.3f} | "
                  f"{spikes:.2f} | {spontaneous:.3f} |")
    nltp_before, nltp_after = test_nltp(before), test_nltp(after)
    print("\n| model (method, n_lf, n_hf) | NLTP before (seeds) | NLTP after (seeds) |")
    print("|---|---|---|")
    for key in sorted(set(nltp_before) & set(nltp_after)):
        b, a = nltp_before[key], nltp_after[key]
        print(f"| {key[0]}, {key[1]}, {key[2]} | {np.mean(b):.2f} ({len(b)}) | "
              f"{np.mean(a):.2f} ({len(a)}) |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
