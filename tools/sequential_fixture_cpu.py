"""Where the sequential toy fixture's CPU time goes: the steps of ``narrow_task`` in
tests/test_sequential.py (its settings, imported from there), run one after another, each
with the process CPU time it took [s] (CPU time, not wall time: it does not grow when other
work shares the machine), then the C2STs the test asserts on.

    PYTHONPATH=scripts:tests OMP_NUM_THREADS=1 .venv/bin/python tools/sequential_fixture_cpu.py
    ... --transforms 2 --seeds 4 10 10    (another network or other seeds: data, HF, training)
    ... --patience 10 --pretraining-patience 10    (earlier stopping: epochs without a gain)
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transforms", type=int, help="num_transforms (default: the test's)")
    parser.add_argument("--seeds", type=int, nargs=3, default=(3, 9, 0),
                        metavar=("DATA", "HF", "TRAINING"), help="default: the test's")
    parser.add_argument("--patience", type=int,
                        help="stop_after_epochs of NPE and the rounds (default: the test's)")
    parser.add_argument("--pretraining-patience", type=int,
                        help="stop_after_epochs of the LF pretraining (default: the test's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", "torch.triangular_solve is deprecated")
    import test_sequential as t  # tests/ on PYTHONPATH

    from mfnpe.evaluation import metrics
    from mfnpe.inference import pretrain, train_npe
    from mfnpe.inference.sequential import run_rounds

    network = t.NETWORK if args.transforms is None else dataclasses.replace(
        t.NETWORK, num_transforms=args.transforms)
    training = t.TRAINING if args.patience is None else dataclasses.replace(
        t.TRAINING, stop_after_epochs=args.patience)
    pretraining = t.PRETRAINING if args.pretraining_patience is None else dataclasses.replace(
        t.PRETRAINING, stop_after_epochs=args.pretraining_patience)
    data_seed, hf_seed, training_seed = args.seeds
    clock = [time.process_time()]

    def lap(step: str) -> None:
        now = time.process_time()
        print(f"{step}: {now - clock[0]:.1f} s", flush=True)
        clock[0] = now

    task, prior, rounds_settings = t.NARROW, t.PRIOR, t.ROUNDS
    rng = np.random.default_rng(data_seed)
    theta_lf = prior.sample(3000, rng)
    lf = pretrain(theta_lf, task.simulate_lf(theta_lf, rng), prior, network, pretraining,
                  seed=training_seed)
    lap("LF pretraining")
    x_obs = task.simulate_hf(prior.sample(t.N_OBS_NPE, rng), rng)
    theta = prior.sample(rounds_settings.rounds * rounds_settings.simulations_per_round, rng)
    npe = train_npe(theta, task.simulate_hf(theta, rng), prior, network, training,
                    seed=training_seed)
    lap("NPE")

    def c2st(posterior, x_o):
        exact = task.exact_samples(x_o, t.N_DRAWS, np.random.default_rng(77))
        return metrics.c2st(posterior.sample(x_o, t.N_DRAWS, seed=0), exact, seed=0)

    scores = {"npe": np.array([c2st(npe, x_o) for x_o in x_obs])}
    lap(f"{t.N_OBS_NPE} NPE C2STs")
    hf_rng = np.random.default_rng(hf_seed)
    for method in ("tsnpe", "mf_tsnpe"):
        pairs = []
        for i, x_o in enumerate(x_obs[:t.N_OBS_SEQUENTIAL]):
            rounds = run_rounds(method, lambda th: task.simulate_hf(th, hf_rng), x_o, prior,
                                rounds_settings, network, training, seed=training_seed + i,
                                pretrained=lf)
            lap(f"{method}, observation {i}: {rounds_settings.rounds} rounds")
            pairs.append([c2st(rounds[0], x_o), c2st(rounds[-1], x_o)])
            lap(f"{method}, observation {i}: 2 C2STs")
        scores[method] = np.array(pairs)
    tsnpe = scores["tsnpe"].mean(axis=0)
    asserted = {  # the test's assertions, each with its threshold
        "NPE mean (> 0.65)": scores["npe"].mean(),
        "NPE on the sequential observations (> 0.65)": scores["npe"][:t.N_OBS_SEQUENTIAL].mean(),
        "TSNPE last round (<= 0.65)": scores["tsnpe"][:, -1].mean(),
        "MF-TSNPE last round (<= 0.65)": scores["mf_tsnpe"][:, -1].mean(),
        "TSNPE first minus last round (> 0.1)": tsnpe[0] - tsnpe[-1],
        "TSNPE minus MF-TSNPE, first round (> 0)": tsnpe[0] - scores["mf_tsnpe"][:, 0].mean(),
    }
    for name, value in asserted.items():
        print(f"{name}: {value:.3f}")
    print(f"CPU time in all: {time.process_time():.1f} s")


if __name__ == "__main__":
    main()
