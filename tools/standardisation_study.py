"""Fine-tuning's z-scoring options ("auto", "keep", "x", "x_and_theta") measured on two toy tasks.

    OMP_NUM_THREADS=1 .venv/bin/python tools/standardisation_study.py [--seeds 3] [--options ...] [--out FILE]

Per task and seed: pretrain on N_LF LF simulations, fine-tune on N_HF HF simulations with
each option (same data, same seed), score on N_TEST held-out HF simulations (NLTP, nats)
and, for the task with an exact posterior, C2ST against exact draws at N_OBS observations.
Prints a markdown table (mean and SD over seeds); docs/library.md holds its output.

Tasks (theta uniform on [-3, 3]^2):
- shifted: HF x = theta + 0.4 eps; LF x = 2 theta + 3 + 0.5 eps (LF summaries shifted and
  scaled against HF). Exact HF posterior: N(x, 0.4^2) truncated to the box, per parameter.
- product: HF x = (theta_1, theta_2, theta_1 theta_2 / 3) + 0.3 eps; LF has no product
  term's curvature (x_3 = (theta_1 + theta_2) / 3) and 1.5x the noise. NLTP only.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from scipy import stats

from mfnpe.evaluation import metrics
from mfnpe.inference import (STANDARDIZATIONS, BoxPrior, NetworkSettings, TrainingSettings,
                             finetune, pretrain)

PRIOR = BoxPrior(("t1", "t2"), [-3.0, -3.0], [3.0, 3.0])
N_LF, N_HF, N_TEST, N_OBS, N_DRAWS = 3000, 100, 1000, 3, 500
NETWORK = NetworkSettings(hidden_features=32, num_transforms=3, num_bins=8)
PRETRAINING = TrainingSettings(batch_size=200, learning_rate=2e-3, stop_after_epochs=15,
                               max_epochs=200)
FINETUNING = TrainingSettings(batch_size=20, stop_after_epochs=20, max_epochs=300)  # lr 1e-4


def shifted_hf(theta, rng):
    return theta + 0.4 * rng.normal(size=theta.shape)


def shifted_lf(theta, rng):
    return 2.0 * theta + 3.0 + 0.5 * rng.normal(size=theta.shape)


def shifted_exact(x, n, rng):
    """(n, 2) exact HF posterior draws given one x (2,)."""
    x = np.broadcast_to(x, (n, 2))
    return stats.truncnorm((-3 - x) / 0.4, (3 - x) / 0.4, loc=x, scale=0.4).rvs(random_state=rng)


def product_hf(theta, rng):
    mean = np.c_[theta, theta[:, 0] * theta[:, 1] / 3]
    return mean + 0.3 * rng.normal(size=mean.shape)


def product_lf(theta, rng):
    mean = np.c_[theta, (theta[:, 0] + theta[:, 1]) / 3]
    return mean + 0.45 * rng.normal(size=mean.shape)


TASKS = {"shifted": (shifted_hf, shifted_lf, shifted_exact), "product": (product_hf, product_lf, None)}


def run(task: str, seed: int, options=STANDARDIZATIONS) -> dict[str, tuple[float, float]]:
    """{option: (test NLTP [nats], mean C2ST or nan)} for one task and seed."""
    simulate_hf, simulate_lf, exact = TASKS[task]
    rng = np.random.default_rng(seed)
    theta_lf, theta_hf, theta_test = (PRIOR.sample(n, rng) for n in (N_LF, N_HF, N_TEST))
    x_lf, x_hf, x_test = simulate_lf(theta_lf, rng), simulate_hf(theta_hf, rng), \
        simulate_hf(theta_test, rng)
    lf = pretrain(theta_lf, x_lf, PRIOR, NETWORK, PRETRAINING, seed=seed)
    results = {}
    for option in options:
        mf = finetune(lf, theta_hf, x_hf, FINETUNING, seed=seed, refit_standardization=option)
        nltp = metrics.nltp(mf.log_prob(theta_test, x_test))[0]
        c2st = np.nan
        if exact is not None:
            draws = mf.sample(x_test[:N_OBS], N_DRAWS, seed=seed)
            exact_rng = np.random.default_rng(100 + seed)
            c2st = float(np.mean([metrics.c2st(draws[:, i], exact(x, N_DRAWS, exact_rng), seed=0)
                                  for i, x in enumerate(x_test[:N_OBS])]))
        results[option] = (float(nltp), c2st)
        refit = f" refit_x {mf.history['refit_x'][0]:.0f}" if option == "auto" else ""
        print(f"{task} seed {seed} {option}: NLTP {nltp:.3f} C2ST {c2st:.3f}{refit}",
              file=sys.stderr, flush=True)
    return results


def table(results: dict, options=STANDARDIZATIONS) -> str:
    """Markdown: per task and option, NLTP and C2ST as mean ± SD over seeds."""
    lines = ["| task | z-scoring when fine-tuning | test NLTP [nats] | C2ST vs exact |",
             "|---|---|---|---|"]
    for task, per_seed in results.items():
        for option in options:
            values = np.array([r[option] for r in per_seed])  # (seeds, 2)
            nltp, c2st = values[:, 0], values[:, 1]
            cell = "–" if np.isnan(c2st).all() else f"{c2st.mean():.3f} ± {c2st.std(ddof=1):.3f}"
            lines.append(f"| {task} | `{option}` | {nltp.mean():.3f} ± {nltp.std(ddof=1):.3f} "
                         f"| {cell} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--options", nargs="+", default=list(STANDARDIZATIONS),
                        choices=list(STANDARDIZATIONS))
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {task: [run(task, seed, args.options) for seed in range(args.seeds)]
               for task in args.tasks}
    text = table(results, args.options)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
