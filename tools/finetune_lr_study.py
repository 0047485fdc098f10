"""Fine-tuning learning rates against ``auto``: toy tasks and a workflow config's HH task.

    OMP_NUM_THREADS=1 .venv/bin/python tools/finetune_lr_study.py toy [--seeds 3] [--budgets 50 200]
    OMP_NUM_THREADS=1 .venv/bin/python tools/finetune_lr_study.py hh config/config.yaml \
        [--seeds 3] [--first-seed 0] [--budgets 50 200 1000] [--json FILE]
    .venv/bin/python tools/finetune_lr_study.py table FILE.json...   # merge runs' seeds

Per task and seed: pretrain once, then fine-tune those same weights on the first n HF
simulations (each budget n) at every rate of ``mfnpe.inference.AUTO_LEARNING_RATES``
(same seed, so same validation split); score each on held-out HF simulations (NLTP, nats;
and C2ST against exact draws at N_OBS observations where the toy task has an exact
posterior). ``auto``'s row is the rate ``choose_learning_rate`` keeps from those runs'
validation losses — the network ``learning_rate="auto"`` returns (tests/test_inference.py
checks they are the same weights); ``--check-auto`` also runs ``auto`` itself and fails on
any difference. Prints markdown tables (mean ± SD over seeds) and how often auto kept each
rate.

- ``toy``: the two tasks of tools/standardisation_study.py (docs/library.md), 3000 LF
  simulations, the library's default fine-tuning settings but for the rate.
- ``hh``: the config's pools as the workflow draws them (its prior shards and simulation
  seeds: first ``max(n_lf)`` LF, the HF budgets' prefix, ``n_test`` test simulations), its
  ``inference`` settings and training seeds (``mfnpe.seeds.run_seed``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from mfnpe.evaluation import metrics
from mfnpe.inference import (AUTO_LEARNING_RATES, NetworkSettings, TrainingSettings, finetune,
                             pretrain)
from mfnpe.inference.train import FINETUNING, choose_learning_rate

AUTO = "auto"
OPTIONS = (*AUTO_LEARNING_RATES, AUTO)


def best_validation_loss(posterior) -> float:
    """The loss early stopping kept [nats]: the starting weights' or the best epoch's."""
    return min(posterior.history.get("start_validation_loss", [])
               + posterior.history["validation_loss"])


def finetune_all(lf, theta, x, training: TrainingSettings, seed: int, score, check_auto: bool,
                 label: str, **kwargs) -> dict:
    """{rate or "auto": score(posterior)} of ``lf`` fine-tuned on ``theta``, ``x`` at
    every candidate rate; auto's entry is the candidate ``choose_learning_rate`` keeps,
    with ``"auto_rate"`` the rate it kept."""
    tuned, results = {}, {}
    for rate in AUTO_LEARNING_RATES:
        start = time.process_time()
        tuned[rate] = finetune(lf, theta, x, TrainingSettings(
            **{**training.to_dict(), "learning_rate": rate}), seed=seed, **kwargs)
        results[rate] = score(tuned[rate])
        print(f"{label} lr {rate:g}: {results[rate]} val {best_validation_loss(tuned[rate]):.4f}"
              f" {len(tuned[rate].history['validation_loss'])} epochs "
              f"{time.process_time() - start:.0f} s CPU", file=sys.stderr, flush=True)
    rate = choose_learning_rate({r: p.history["validation_loss_per_simulation"]
                                 for r, p in tuned.items()})
    results[AUTO], results["auto_rate"] = results[rate], rate
    if check_auto:
        auto = finetune(lf, theta, x, TrainingSettings(
            **{**training.to_dict(), "learning_rate": AUTO}), seed=seed, **kwargs)
        if auto.history["learning_rate"] != [rate] or score(auto) != results[rate]:
            raise RuntimeError(f"{label}: learning_rate='auto' kept {auto.history['learning_rate']}"
                               f" scoring {score(auto)}, not {rate:g} scoring {results[rate]}")
    print(f"{label} auto kept {rate:g}", file=sys.stderr, flush=True)
    return results


def seeds_of(args) -> range:
    return range(args.first_seed, args.first_seed + args.seeds)


# --------------------------------------------------------------------------- toy tasks

def toy(args) -> dict:
    """{task: {budget: [results of each seed]}} on the standardisation study's toy tasks."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import standardisation_study as study  # tools/: the toy tasks of docs/library.md

    training = FINETUNING
    out = {}
    for task in args.tasks:
        simulate_hf, simulate_lf, exact = study.TASKS[task]
        out[task] = {n: [] for n in args.budgets}
        for seed in seeds_of(args):
            rng = np.random.default_rng(seed)
            theta_lf, theta_hf, theta_test = (study.PRIOR.sample(n, rng)
                                              for n in (study.N_LF, max(args.budgets),
                                                        study.N_TEST))
            x_lf, x_hf, x_test = simulate_lf(theta_lf, rng), simulate_hf(theta_hf, rng), \
                simulate_hf(theta_test, rng)
            lf = pretrain(theta_lf, x_lf, study.PRIOR, study.NETWORK, study.PRETRAINING,
                          seed=seed)

            def score(posterior, seed=seed, exact=exact, x_test=x_test, theta_test=theta_test):
                nltp = metrics.nltp(posterior.log_prob(theta_test, x_test))[0]
                if exact is None:
                    return round(float(nltp), 6), np.nan
                draws = posterior.sample(x_test[:study.N_OBS], study.N_DRAWS, seed=seed)
                exact_rng = np.random.default_rng(100 + seed)
                c2st = np.mean([metrics.c2st(draws[:, i], exact(x, study.N_DRAWS, exact_rng),
                                             seed=0)
                                for i, x in enumerate(x_test[:study.N_OBS])])
                return round(float(nltp), 6), round(float(c2st), 6)

            for n in args.budgets:
                out[task][n].append(finetune_all(lf, theta_hf[:n], x_hf[:n], training, seed,
                                                 score, args.check_auto,
                                                 f"{task} seed {seed} n_hf {n}"))
    return out


# --------------------------------------------------------------------------- HH task

def simulate_pool(config, pool: str, n: int):
    """(theta (n, d), x (n, f), valid (n,)) of the first ``n`` simulations of the
    workflow's ``pool`` (its prior shards and simulation seeds)."""
    from mfnpe.plan.shards import experiment_simulation, prior_settings
    from mfnpe.seeds import simulation_seeds
    from mfnpe.simulation.shard import sample_prior_shard, simulate_shard

    experiment = experiment_simulation(config, pool).with_traces(None)
    thetas, xs = [], []
    shard = 0
    while sum(map(len, thetas)) < n:
        theta, names = sample_prior_shard(prior_settings(config, pool, shard))
        seeds = simulation_seeds(config["seed"], pool, shard, len(theta))
        part = simulate_shard(theta, names, experiment, seeds)
        thetas.append(theta)
        xs.append(np.where(part.valid[:, None], part.x, np.nan))
        shard += 1
    theta, x = np.concatenate(thetas)[:n], np.concatenate(xs)[:n]
    return theta, x, np.isfinite(x).all(axis=1)


def valid_prefix(theta, x, valid, n: int):
    """The valid rows among the first ``n`` (what the workflow trains on at budget n)."""
    return theta[:n][valid[:n]], x[:n][valid[:n]]


def workflow_pools(config, n_hf: int, cache: str | None = None):
    """((theta_lf, x_lf), (theta_hf, x_hf, valid_hf), (theta_test, x_test)): the valid rows
    of the config's first ``max(n_lf)`` LF and ``n_test`` test simulations, and its first
    ``n_hf`` HF simulations with their validity (each budget n trains on
    ``valid_prefix(*hf, n)``), as the workflow draws them; kept in the ``.npz`` ``cache``
    (used again when it holds at least as many simulations of each pool)."""
    n_lf, n_test = max(config["budgets"]["n_lf"]), config["budgets"]["n_test"]
    if cache and os.path.exists(cache):
        with np.load(cache) as d:
            if "valid_hf" not in d:
                raise ValueError(f"{cache}: pools of an earlier version of the study tools "
                                 f"(no valid_hf); remove it or give another path")
            # the LF simulations it was drawn from (theta_lf holds only the valid ones;
            # caches before n_lf was stored: their count of valid ones)
            held_lf = int(d["n_lf"]) if "n_lf" in d else len(d["theta_lf"])
            if int(d["n_hf"]) >= n_hf and held_lf >= n_lf:
                return ((d["theta_lf"], d["x_lf"]), (d["theta_hf"], d["x_hf"], d["valid_hf"]),
                        (d["theta_test"], d["x_test"]))
    start = time.process_time()
    lf = valid_prefix(*simulate_pool(config, "lf", n_lf), n_lf)
    hf = simulate_pool(config, "hf", n_hf)
    test = valid_prefix(*simulate_pool(config, "test", n_test), n_test)
    print(f"simulated {len(lf[0])} LF, {hf[2].sum()} HF, {len(test[0])} test (valid) in "
          f"{time.process_time() - start:.0f} s CPU", file=sys.stderr, flush=True)
    if cache:
        np.savez(cache, n_lf=n_lf, n_hf=n_hf, theta_lf=lf[0], x_lf=lf[1], theta_hf=hf[0], x_hf=hf[1],
                 valid_hf=hf[2], theta_test=test[0], x_test=test[1])
    return lf, hf, test


def hh(args) -> dict:
    """{config: {budget: [results of each seed]}} on a workflow config's task."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from config_check import merged_config  # tools/: the config as the workflow merges it

    from mfnpe.prior import BoxPrior
    from mfnpe.seeds import run_seed

    config = merged_config(args.configs)
    inference = config["inference"]
    prior = BoxPrior.from_config(config["prior"])
    n_lf = max(config["budgets"]["n_lf"])
    (theta_lf, x_lf), hf, (theta_test, x_test) = workflow_pools(config, max(args.budgets))
    network = NetworkSettings.from_dict(inference["network"])
    pretraining = TrainingSettings.from_dict(inference["pretrain"])
    training = TrainingSettings.from_dict(inference["finetune"])

    def score(posterior):
        return round(metrics.nltp(posterior.log_prob(theta_test, x_test))[0], 6), np.nan

    label = " ".join(args.configs)
    out = {label: {n: [] for n in args.budgets}}
    for seed in seeds_of(args):
        start = time.process_time()
        lf = pretrain(theta_lf, x_lf, prior, network, pretraining,
                      seed=run_seed(config["seed"], "training", "lf_npe", n_lf, 0, seed))
        print(f"seed {seed}: pretrained in {time.process_time() - start:.0f} s CPU, LF-NPE "
              f"NLTP {score(lf)[0]:.3f}", file=sys.stderr, flush=True)
        for n in args.budgets:
            theta, x = valid_prefix(*hf, n)
            out[label][n].append(finetune_all(
                lf, theta, x, training, run_seed(config["seed"], "training", "mf_npe", n_lf,
                                                 n, seed),
                score, args.check_auto, f"seed {seed} n_hf {n}",
                refit_standardization=inference["refit_standardization"]))
    return out


# --------------------------------------------------------------------------- tables

def to_json(results: dict) -> dict:
    """``results`` as JSON data (budgets and rates as strings)."""
    return {task: {str(n): [{str(k): v for k, v in r.items()} for r in per_seed]
                   for n, per_seed in per_budget.items()} for task, per_budget in results.items()}


def from_json(paths) -> dict:
    """The results of several ``--json`` files, seeds appended in the order given."""
    results: dict = {}
    for path in paths:
        with open(path) as handle:
            for task, per_budget in json.load(handle).items():
                for n, per_seed in per_budget.items():
                    results.setdefault(task, {}).setdefault(int(n), []).extend(
                        {(k if k in (AUTO, "auto_rate") else float(k)): v for k, v in r.items()}
                        for r in per_seed)
    return results


def table(results: dict) -> str:
    """Markdown: per task, budget and option, NLTP (and C2ST) as mean ± SD over seeds; the
    best fixed rate's mean in bold; auto's row says which rate it kept on each seed."""
    lines = ["| task | HF budget | fine-tuning learning rate | test NLTP [nats] | C2ST vs exact |",
             "|---|---|---|---|---|"]
    for task, per_budget in results.items():
        for n, per_seed in per_budget.items():
            means = {option: np.mean([r[option][0] for r in per_seed]) for option in OPTIONS}
            best = min(AUTO_LEARNING_RATES, key=means.get)
            for option in OPTIONS:
                values = np.array([r[option] for r in per_seed])  # (seeds, 2)
                nltp, c2st = values[:, 0], values[:, 1]
                name = f"`{option:g}`" if option != AUTO else "`auto` (kept " + ", ".join(
                    f"{r['auto_rate']:g}" for r in per_seed) + ")"
                mean = f"{nltp.mean():.3f}"
                mean = f"**{mean}**" if option == best else mean
                cell = "–" if np.isnan(c2st).all() else \
                    f"{c2st.mean():.3f} ± {c2st.std(ddof=1):.3f}"
                lines.append(f"| {task} | {n} | {name} | {mean} ± {nltp.std(ddof=1):.3f} "
                             f"| {cell} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="study", required=True)
    toy_args = sub.add_parser("toy")
    toy_args.add_argument("--tasks", nargs="+", default=["shifted", "product"])
    toy_args.add_argument("--budgets", nargs="+", type=int, default=[50, 200])
    hh_args = sub.add_parser("hh")
    hh_args.add_argument("configs", nargs="+", help="the workflow's config files, merged")
    hh_args.add_argument("--budgets", nargs="+", type=int, default=[50, 200, 1000])
    table_args = sub.add_parser("table")
    table_args.add_argument("json", nargs="+", help="--json files of earlier runs")
    for each in (toy_args, hh_args):
        each.add_argument("--seeds", type=int, default=3)
        each.add_argument("--first-seed", type=int, default=0)
        each.add_argument("--json", help="also write the results (per seed) to this file")
        each.add_argument("--check-auto", action="store_true",
                          help="also run learning_rate='auto' and fail on any difference")
        each.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.study == "table":
        print(table(from_json(args.json)))
        return
    results = toy(args) if args.study == "toy" else hh(args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(to_json(results), handle, indent=1)
    text = table(results)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
