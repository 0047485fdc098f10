"""Which LF simulator stands in best for the HF one on a config's task, and at what cost.

    OMP_NUM_THREADS=1 .venv/bin/python tools/lf_choice.py config/config.yaml config/cortical.yaml \
        --thetas 100 --replicates 20 \
        --candidates deterministic,subunit_langevin,edge_langevin,binomial

For ``--thetas`` parameter sets drawn from the config's prior: one HF simulation each (the
config's HF simulator) and ``--replicates`` simulations of each candidate at the LF dt.
Per theta and feature, the randomised rank of the HF value among the candidate's
replicates (its PIT; a missing feature, NaN, ranks below every number, so "no ISI" must
agree too). Were the candidate's x | theta the HF's, the PITs would be uniform. Printed
per candidate: seconds of CPU per simulation, the Kolmogorov-Smirnov distance of each
feature's PITs from uniform and their mean, and the fraction of HF values outside the
candidate's central 90% (0.10 ideal). A proxy for how much pretraining on the candidate
helps; the workflow's NLTP is the final word.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from mfnpe.observation.passive import area_prior_from_recording
from mfnpe.plan.shards import experiment_simulation
from mfnpe.prior import BoxPrior
from mfnpe.simulation.experiment import SimulatorSettings
from mfnpe.simulation.shard import simulate_shard

from config_check import merged_config  # tools/: Snakemake's merge of the config files


def simulate(config, pool: str, theta: np.ndarray, seeds: np.ndarray, simulator=None):
    """(x (n, n_features), CPU seconds per simulation, feature names) of ``theta`` under
    ``simulator`` (default: the config's for ``pool``)."""
    experiment = experiment_simulation(config, pool).with_traces(None)
    if simulator is not None:
        experiment = replace(experiment, simulator=SimulatorSettings.from_dict(simulator))
    start = time.process_time()
    shard = simulate_shard(theta, list(config["prior"]), experiment, seeds.astype(np.uint32))
    return shard.x, (time.process_time() - start) / len(theta), shard.feature_names


def randomised_pit(hf: np.ndarray, lf: np.ndarray, rng) -> np.ndarray:
    """(n, f) PITs of ``hf`` (n, f) among ``lf`` (n, R, f); NaN ranks lowest, ties split
    uniformly at random."""
    low = -np.inf
    hf, lf = np.where(np.isnan(hf), low, hf), np.where(np.isnan(lf), low, lf)
    below = (lf < hf[:, None]).sum(1)
    ties = (lf == hf[:, None]).sum(1)
    return (below + rng.random(hf.shape) * (ties + 1)) / (lf.shape[1] + 1)


def ks_uniform(u: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of the sample ``u`` (n,) from U(0, 1)."""
    u = np.sort(u)
    n = len(u)
    return float(max((np.arange(1, n + 1) / n - u).max(), (u - np.arange(n) / n).max()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--thetas", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--candidates", default="deterministic,subunit_langevin,edge_langevin")
    parser.add_argument("--dt", type=float, default=None, help="LF dt [ms] (default: the config's)")
    args = parser.parse_args(argv)
    config = merged_config(args.configs, area_measure=area_prior_from_recording)
    rng = np.random.default_rng(12345)
    theta = BoxPrior.from_config(config["prior"]).sample(args.thetas, rng)
    hf_settings = config["simulators"]["hf"]
    hf, hf_cost, names = simulate(config, "test", theta, np.arange(args.thetas) + 10_000_000)
    print(f"HF {hf_settings['name']} dt {hf_settings['dt']}: {hf_cost:.3f} s per simulation "
          f"(mean of {args.thetas} prior draws); {np.isnan(hf).all(1).mean():.2f} invalid")
    lf_dt = args.dt or config["simulators"]["lf"]["dt"]
    rows = np.repeat(theta, args.replicates, axis=0)
    print("candidate s_per_sim mean_KS outside_90 " + " ".join(f"KS_{n}" for n in names))
    for name in args.candidates.split(","):
        simulate(config, "lf", rows[:1], np.zeros(1), {"name": name, "dt": lf_dt})  # compile
        lf, cost, _ = simulate(config, "lf", rows, np.arange(len(rows)),
                               {"name": name, "dt": lf_dt})
        lf = lf.reshape(args.thetas, args.replicates, -1)
        pit = randomised_pit(hf, lf, rng)
        ks = [ks_uniform(pit[:, j]) for j in range(pit.shape[1])]
        outside = float(((pit < 0.05) | (pit > 0.95)).mean())
        print(f"{name} {cost:.4f} {np.mean(ks):.3f} {outside:.3f} "
              + " ".join(f"{k:.3f}" for k in ks), flush=True)


if __name__ == "__main__":
    main()
