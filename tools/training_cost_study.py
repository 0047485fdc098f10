"""Pretraining cost against test NLTP on a workflow config's HH task (issue 27, item 3).

    OMP_NUM_THREADS=1 .venv/bin/python tools/training_cost_study.py run config/config.yaml \
        [--seeds 3] [--variants today batch500 ...] [--n-hf 200] [--json FILE] [--pools FILE.npz]
    .venv/bin/python tools/training_cost_study.py table FILE.json

Per seed and pretraining variant (:data:`VARIANTS`: today's ``inference.pretrain``
settings and cheaper ones), pretrain LF-NPE on the config's LF pool exactly as the workflow
draws it (``finetune_lr_study.simulate_pool``: its prior shards and simulation seeds, the
first ``max(n_lf)`` simulations) with the workflow's training seed, recording the process
CPU seconds and epochs of that one call (one thread); then fine-tune it on the first
``--n-hf`` HF simulations with the config's ``inference.finetune`` settings and score
LF-NPE and MF-NPE by test NLTP [nats] on the ``n_test`` test simulations. Seeds run in the
outer loop, so a cut-short run still holds every variant on its first seeds; ``--json``
is written after every training and a rerun with the same file skips what it holds.
``--pools`` caches the simulated pools (written if absent, read if present).

The table: per variant, CPU seconds and epochs (mean over seeds), LF-NPE and MF-NPE NLTP
(mean ± SD over seeds), and whether it meets issue 27's bar: at most a third of today's
mean CPU, and both means no more than today's seed SD above today's mean.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from config_check import merged_config  # noqa: E402  (tools/: the config as merged)
from finetune_lr_study import valid_prefix, workflow_pools  # noqa: E402  (tools/)

from mfnpe.evaluation import metrics  # noqa: E402
from mfnpe.inference import NetworkSettings, TrainingSettings, finetune, pretrain  # noqa: E402
from mfnpe.prior import BoxPrior  # noqa: E402
from mfnpe.seeds import run_seed  # noqa: E402

VARIANTS = {
    "today": {},
    "batch500": {"batch_size": 500, "learning_rate": 1e-3},
    "batch1000": {"batch_size": 1000, "learning_rate": 2e-3},
    "batch500_stop10": {"batch_size": 500, "learning_rate": 1e-3, "stop_after_epochs": 10},
}
"""Pretraining variants: overrides of the config's ``inference.pretrain`` settings. Larger
batches cut the per-step overhead (45 steps of 200 per epoch at 10 000 LF against 18 of 500
or 9 of 1000) and average the gradient over more simulations, so they take a larger Adam
step (between the square-root and the linear scaling with batch size); a shorter patience
cuts the epochs spent after the best one."""


def run(args) -> list[dict]:
    """One record per (seed, variant): CPU s, wall s and epochs of the pretraining, LF-NPE
    and MF-NPE test NLTP [nats], fine-tuning CPU s and epochs."""
    config = merged_config(args.configs)
    inference = config["inference"]
    prior = BoxPrior.from_config(config["prior"])
    network = NetworkSettings.from_dict(inference["network"])
    today = TrainingSettings.from_dict(inference["pretrain"])
    finetuning = TrainingSettings.from_dict(inference["finetune"])
    (theta_lf, x_lf), hf, (theta_test, x_test) = workflow_pools(config, args.n_hf, args.pools)
    theta_hf, x_hf = valid_prefix(*hf, args.n_hf)
    n_lf = max(config["budgets"]["n_lf"])
    records = []
    if args.json and os.path.exists(args.json):
        with open(args.json) as handle:
            records = json.load(handle)
    done = {(r["variant"], r["seed"]) for r in records}

    def nltp(posterior) -> float:
        return round(float(metrics.nltp(posterior.log_prob(theta_test, x_test))[0]), 6)

    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for variant in args.variants:
            if (variant, seed) in done:
                continue
            settings = TrainingSettings(**{**today.to_dict(), **VARIANTS[variant]})
            cpu, wall = time.process_time(), time.perf_counter()
            lf = pretrain(theta_lf, x_lf, prior, network, settings,
                          seed=run_seed(config["seed"], "training", "lf_npe", n_lf, 0, seed))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            tune_cpu = time.process_time()
            mf = finetune(lf, theta_hf, x_hf, finetuning,
                          seed=run_seed(config["seed"], "training", "mf_npe", n_lf, args.n_hf,
                                        seed),
                          refit_standardization=inference["refit_standardization"])
            tune_cpu = time.process_time() - tune_cpu
            record = {"variant": variant, "seed": seed, "settings": VARIANTS[variant],
                      "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
                      "epochs": len(lf.history["validation_loss"]),
                      "lf_nltp": nltp(lf), "mf_nltp": nltp(mf), "n_hf": args.n_hf,
                      "finetune_cpu_s": round(tune_cpu, 1),
                      "finetune_epochs": len(mf.history["validation_loss"])}
            print(json.dumps(record), file=sys.stderr, flush=True)
            records.append(record)
            if args.json:
                with open(args.json, "w") as handle:
                    json.dump(records, handle, indent=1)
    return records


def describe(settings: dict) -> str:
    """A variant's overrides as text ("today's" when none)."""
    return ", ".join(f"{k} {v:g}" for k, v in settings.items()) or "today's"


def table(records: list[dict]) -> str:
    """Markdown: per variant (in :data:`VARIANTS` order) CPU s and epochs (mean, range),
    LF-NPE and MF-NPE NLTP mean ± SD over seeds, the CPU ratio to today's and the verdict."""
    by_variant = {}
    for record in records:
        by_variant.setdefault(record["variant"], []).append(record)
    order = [v for v in VARIANTS if v in by_variant] + [v for v in by_variant if v not in VARIANTS]
    stats = {}
    for variant in order:
        rows = by_variant[variant]
        stats[variant] = {key: np.array([r[key] for r in rows], dtype=float)
                          for key in ("cpu_s", "epochs", "lf_nltp", "mf_nltp")}
    base = stats.get("today")
    n_hf = records[0]["n_hf"]
    lines = [f"| variant | pretraining settings | seeds | CPU s (mean) | epochs (mean, range) "
             f"| CPU / today | LF-NPE NLTP | MF-NPE@{n_hf} NLTP | a third at equal NLTP |",
             "|---|---|---|---|---|---|---|---|---|"]
    for variant in order:
        s = stats[variant]
        sd = {k: (s[k].std(ddof=1) if len(s[k]) > 1 else float("nan")) for k in s}
        ratio, verdict = "–", "–"
        if base is not None:
            ratio = f"{s['cpu_s'].mean() / base['cpu_s'].mean():.2f}"
            if variant != "today":
                equal = all(s[k].mean() <= base[k].mean() + base[k].std(ddof=1)
                            for k in ("lf_nltp", "mf_nltp"))
                third = s["cpu_s"].mean() <= base["cpu_s"].mean() / 3
                verdict = "yes" if equal and third else \
                    "no (" + ", ".join(w for w, ok in (("CPU", third), ("NLTP", equal))
                                       if not ok) + ")"
        lines.append(
            f"| {variant} | {describe(by_variant[variant][0]['settings'])} | {len(s['cpu_s'])} "
            f"| {s['cpu_s'].mean():.0f} | {s['epochs'].mean():.0f} "
            f"({s['epochs'].min():.0f}–{s['epochs'].max():.0f}) | {ratio} "
            f"| {s['lf_nltp'].mean():.3f} ± {sd['lf_nltp']:.3f} "
            f"| {s['mf_nltp'].mean():.3f} ± {sd['mf_nltp']:.3f} | {verdict} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_args = sub.add_parser("run")
    run_args.add_argument("configs", nargs="+", help="the workflow's config files, merged")
    run_args.add_argument("--seeds", type=int, default=3)
    run_args.add_argument("--first-seed", type=int, default=0)
    run_args.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    run_args.add_argument("--n-hf", type=int, default=200, help="HF simulations to fine-tune on")
    run_args.add_argument("--json", help="records per training (read to resume, then written)")
    run_args.add_argument("--pools", help="npz cache of the simulated pools")
    table_args = sub.add_parser("table")
    table_args.add_argument("json", help="a run's --json file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "table":
        with open(args.json) as handle:
            print(table(json.load(handle)))
        return
    print(table(run(args)))


if __name__ == "__main__":
    main()
