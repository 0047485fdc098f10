"""Why MF-NPE fails calibration at large HF budgets on a workflow config's HH task (issue 27,
item 2): the workflow's own MF-NPE, and fine-tunings that differ in one choice, scored by
the workflow's calibration tests.

    OMP_NUM_THREADS=1 .venv/bin/python tools/calibration_study.py run config/config.yaml \
        [--seeds 3] [--budgets 500 1000] [--variants today auto ...] [--json FILE] \
        [--pools FILE.npz] [--networks DIR] [--n-lf N] [--features NAME ...]
    .venv/bin/python tools/calibration_study.py table FILE.json

Per seed: LF-NPE pretrained exactly as the workflow does (its pools, settings and training
seed: ``finetune_lr_study.simulate_pool``, ``mfnpe.seeds.run_seed``); per HF budget, the
variants of :data:`VARIANTS` — ``today`` is the workflow's MF-NPE (so its SBC p values are
those of the default run's ``metrics.csv``), the others change one choice —, and NPE on
the same HF simulations. Each is scored with ``mfnpe.evaluation.test_set.evaluate_posterior``
on the config's test simulations (the workflow's evaluation seed, its
``evaluation.posterior_samples`` and ``calibration_level``): NLTP, SBC p per parameter,
TARP ATC and whether it passes. ``--json`` is written after every model and a rerun with
the same file skips what it holds; ``--pools`` caches the simulated pools and
``--networks`` the pretrained LF-NPE of each seed. ``lf`` scores LF-NPE itself (no
fine-tuning); each fine-tuning records its epochs, whether it kept the starting weights and
its loss on each held-out HF simulation (``validation_loss_per_simulation`` [nats]; the
variants of one seed and budget hold out the same simulations) and whether x's z-scoring
was refitted (``refit_x``: what ``auto`` chose, from ``x_shift`` and ``x_log_scale``).
``--features`` trains and scores every model on some of the config's features of the same
simulations (docs/results.md, "Features"); ``--n-lf`` pretrains on fewer LF simulations
("LF size").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VARIANTS = {
    "lf": "LF-NPE as pretrained (no fine-tuning)",
    "today": "the workflow's MF-NPE (inference.finetune, refit_standardization)",
    "auto": "learning_rate auto (chosen by the HF validation loss)",
    "patient": "stop_after_epochs x 5 (fine-tuning runs until the validation loss "
               "has not improved for 5 times as many epochs)",
    "refit_x": "refit_standardization x (the HF data's own z-scoring of x)",
    "refit": "refit_standardization x_and_theta (the HF data's own z-scoring)",
    "npe": "NPE from scratch on the same HF simulations (the workflow's NPE)",
}


def feature_columns(config_features, kept: list[str]) -> list[int]:
    """The columns of x (in the config's ``features`` list) that ``kept`` names, in the
    config's order."""
    if not isinstance(config_features, list):
        raise SystemExit(f"--features needs the config's features as a list, not "
                         f"{config_features!r}")
    unknown = sorted(set(kept) - set(config_features))
    if unknown:
        raise SystemExit(f"--features: {unknown} not among the config's {config_features}")
    return [j for j, name in enumerate(config_features) if name in kept]


def run(args) -> dict:
    from config_check import merged_config
    from finetune_lr_study import valid_prefix, workflow_pools

    from mfnpe.evaluation.test_set import evaluate_posterior
    from mfnpe.inference import NetworkSettings, TrainingSettings, finetune, pretrain, train_npe
    from mfnpe.prior import BoxPrior
    from mfnpe.seeds import run_seed

    config = merged_config(args.configs)
    inference, evaluation = config["inference"], config["evaluation"]
    prior = BoxPrior.from_config(config["prior"])
    master = config["seed"]
    (theta_lf, x_lf), hf, (theta_test, x_test) = workflow_pools(config, max(args.budgets),
                                                                args.pools)
    n_lf = args.n_lf or max(config["budgets"]["n_lf"])
    if n_lf != len(theta_lf) and len(theta_lf) != max(config["budgets"]["n_lf"]):
        # the workflow's budget n_lf trains on the valid rows among the pool's first n_lf
        # simulations; the cached pool keeps only the valid ones, so only where every one
        # of them is valid is its first n_lf rows the same set
        raise SystemExit(f"--n-lf {n_lf}: the LF pool has invalid simulations")
    theta_lf, x_lf = theta_lf[:n_lf], x_lf[:n_lf]
    if args.features:  # the same simulations, fewer features (another --json and --networks)
        columns = feature_columns(config["features"], args.features)
        x_lf, x_test, hf = x_lf[:, columns], x_test[:, columns], (hf[0], hf[1][:, columns], hf[2])
    network = NetworkSettings.from_dict(inference["network"])
    pretraining = TrainingSettings.from_dict(inference["pretrain"])
    finetuning = TrainingSettings.from_dict(inference["finetune"])
    npe_training = TrainingSettings.from_dict(inference["npe"])
    results = json.loads(Path(args.json).read_text()) if args.json and \
        Path(args.json).exists() else {}

    def score(posterior, method: str, n_hf: int, seed: int) -> dict:
        e = evaluate_posterior(posterior, theta_test, x_test, evaluation["posterior_samples"],
                               keep=0, seed=run_seed(master, "evaluation", method, n_lf if
                                                     method != "npe" else 0, n_hf, seed),
                               level=evaluation["calibration_level"])
        keys = ["nltp", "tarp_atc", "tarp_p", "calibration_pass"] + \
            [f"sbc_p_{name}" for name in prior.names]
        return {k: float(e.metrics[k]) for k in keys}

    def pretrained(seed: int):
        from mfnpe.inference import Posterior

        path = Path(args.networks or ".") / f"lf_npe_seed-{seed}.pt"
        if args.networks and path.exists():
            return Posterior.load(path)
        lf = pretrain(theta_lf, x_lf, prior, network, pretraining,
                      seed=run_seed(master, "training", "lf_npe", n_lf, 0, seed))
        if args.networks:
            lf.save(path)
        return lf

    for seed in range(args.first_seed, args.first_seed + args.seeds):
        lf = None
        for n in args.budgets:
            theta, x = valid_prefix(*hf, n)
            for variant in args.variants:
                key = f"{variant}/{n}/{seed}"
                if key in results:
                    continue
                if variant != "npe" and lf is None:
                    lf = pretrained(seed)
                start = time.process_time()
                if variant == "lf":
                    posterior, method = lf, "lf_npe"
                elif variant == "npe":
                    posterior = train_npe(theta, x, prior, network, npe_training,
                                          seed=run_seed(master, "training", "npe", 0, n, seed))
                    method = "npe"
                else:
                    training, refit = finetuning, inference["refit_standardization"]
                    if variant == "auto":
                        training = dataclasses.replace(training, learning_rate="auto")
                    elif variant == "patient":
                        training = dataclasses.replace(
                            training, stop_after_epochs=5 * training.stop_after_epochs)
                    elif variant == "refit_x":
                        refit = "x"
                    elif variant == "refit":
                        refit = "x_and_theta"
                    posterior = finetune(lf, theta, x, training, refit_standardization=refit,
                                         seed=run_seed(master, "training", "mf_npe", n_lf, n,
                                                       seed))
                    method = "mf_npe"
                cpu = time.process_time() - start
                results[key] = {**score(posterior, method, n if variant != "lf" else 0, seed),
                                "cpu_s": round(cpu, 1)}
                if variant not in ("lf", "npe"):
                    history = posterior.history
                    results[key].update(epochs=len(history["validation_loss"]),
                                        kept_start=bool(history.get("kept_start", [0])[0]),
                                        refit_x=bool(history["refit_x"][0]),
                                        x_shift=history["x_shift"][0],
                                        x_log_scale=history["x_log_scale"][0],
                                        validation_loss_per_simulation=history[
                                            "validation_loss_per_simulation"])
                print(key, json.dumps(results[key]), file=sys.stderr, flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(results, indent=1))
    return results


def table(results: dict) -> str:
    """Markdown: per variant and budget, seeds passing, each seed's smallest SBC p (and its
    parameter), TARP ATC and NLTP (mean ± SD)."""
    rows: dict = {}
    for key, r in results.items():
        variant, n, seed = key.split("/")
        rows.setdefault((variant, int(n)), []).append((int(seed), r))
    lines = ["| variant | HF | seeds passing | smallest SBC p per seed (parameter) | TARP ATC "
             "(mean) | test NLTP | fine-tuning epochs (kept the start) |",
             "|---|---|---|---|---|---|---|"]
    order = list(VARIANTS)
    for (variant, n), per_seed in sorted(rows.items(), key=lambda kv: (kv[0][1],
                                                                       order.index(kv[0][0]))):
        per_seed.sort()
        smallest = []
        for _, r in per_seed:
            name, p = min(((k[6:], v) for k, v in r.items() if k.startswith("sbc_p_")),
                          key=lambda kv: kv[1])
            smallest.append(f"{p:.2g} ({name})")
        nltp = np.array([r["nltp"] for _, r in per_seed])
        passing = sum(int(r["calibration_pass"]) for _, r in per_seed)
        lines.append(f"| {variant} | {n} | {passing} / {len(per_seed)} | {', '.join(smallest)} "
                     f"| {np.mean([r['tarp_atc'] for _, r in per_seed]):+.3f} | "
                     f"{nltp.mean():.3f} ± {nltp.std(ddof=1) if len(nltp) > 1 else 0:.3f} | "
                     + (", ".join(f"{r['epochs']}" + (" (kept)" if r["kept_start"] else "")
                                  for _, r in per_seed) if "epochs" in per_seed[0][1] else "–")
                     + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_args = sub.add_parser("run")
    run_args.add_argument("configs", nargs="+")
    run_args.add_argument("--seeds", type=int, default=3)
    run_args.add_argument("--first-seed", type=int, default=0)
    run_args.add_argument("--budgets", type=int, nargs="+", default=[500, 1000])
    run_args.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    run_args.add_argument("--json")
    run_args.add_argument("--pools")
    run_args.add_argument("--networks", help="folder caching each seed's pretrained LF-NPE")
    run_args.add_argument("--n-lf", type=int,
                          help="pretrain on the LF pool's first N simulations (the workflow's "
                               "budget n_lf = N; default the config's largest)")
    run_args.add_argument("--features", nargs="+",
                          help="train and score on these of the config's features only "
                               "(the same pools; give it its own --json and --networks)")
    table_args = sub.add_parser("table")
    table_args.add_argument("json")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(table(json.loads(Path(args.json).read_text())))
        return
    torch.set_num_threads(1)
    print(table(run(args)))


if __name__ == "__main__":
    main()
