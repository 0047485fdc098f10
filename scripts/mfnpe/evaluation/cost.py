"""CPU cost of each model by stage, from the workflow's benchmark records, and the CPU
time each method needs to reach a given NLTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from mfnpe.evaluation.tables import RUN_COLUMNS, matching_budget, over_seeds


def benchmark_seconds(path) -> float:
    """CPU seconds of one job from its Snakemake benchmark TSV (wall seconds if the CPU
    time was not sampled, as for jobs shorter than the sampling interval)."""
    table = pd.read_csv(path, sep="\t")
    cpu = float(table["cpu_time"].iloc[0]) if "cpu_time" in table else 0.0
    return cpu if cpu > 0 else float(table["s"].iloc[0])


def pool_cost(paths: list, shard_size: int, n: int) -> float:
    """CPU seconds to simulate the first ``n`` simulations of a pool from its shards'
    benchmarks (``paths`` in shard order; the last shard is prorated)."""
    seconds, left = 0.0, n
    for path in paths:
        if left <= 0:
            break
        take = min(left, shard_size)
        seconds += benchmark_seconds(path) * take / shard_size
        left -= take
    return seconds


def cost_frame(runs: Iterable[Mapping], sim_benchmarks: Mapping[str, list],
               train_benchmarks: Mapping[tuple, str], shard_size: Mapping[str, int]) -> pd.DataFrame:
    """CPU cost of each NPE and MF-NPE model by stage: rows method, n_lf, n_hf, seed, stage,
    seconds. MF-NPE pays the LF simulations and pretraining (shared by all its budgets)."""
    rows = []
    for run in runs:
        method, n_lf, n_hf, seed = (run[k] for k in RUN_COLUMNS)
        if method == "lf_npe":
            continue
        stages = {"HF simulation": pool_cost(sim_benchmarks["hf"], shard_size["hf"], n_hf)}
        if method == "mf_npe":
            stages["LF simulation"] = pool_cost(sim_benchmarks["lf"], shard_size["lf"], n_lf)
            stages["pretraining"] = benchmark_seconds(train_benchmarks[("lf_npe", n_lf, 0, seed)])
            stages["fine-tuning"] = benchmark_seconds(train_benchmarks[(method, n_lf, n_hf, seed)])
        else:
            stages["training"] = benchmark_seconds(train_benchmarks[(method, n_lf, n_hf, seed)])
        rows += [dict(method=method, n_lf=n_lf, n_hf=n_hf, seed=seed, stage=stage, seconds=s)
                 for stage, s in stages.items()]
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "stage", "seconds"])


def cost_to_reach(frame: pd.DataFrame, cost: pd.DataFrame, metric: str = "nltp") -> pd.DataFrame:
    """CPU seconds (simulation + training, mean over seeds) each method needs to reach the
    ``metric`` NPE reaches at each of its budgets (NPE's mean over seeds).

    Per curve (NPE; MF-NPE per LF size) the budget is found by :func:`matching_budget` and
    the cost interpolated linearly in log budget; ``bound`` "lower"/"upper" marks a target
    beyond the trained budgets (the cost shown is that of the largest/smallest budget)."""
    table = over_seeds(frame[(frame["metric"] == metric) & (frame["method"] != "lf_npe")])
    curves = table[["method", "n_lf", "n_hf", "mean"]].rename(columns={"mean": "value"})
    seconds = (cost.groupby(RUN_COLUMNS)["seconds"].sum()
               .groupby(["method", "n_lf", "n_hf"]).mean().rename("seconds").reset_index())
    curves = curves.merge(seconds, on=["method", "n_lf", "n_hf"])
    npe = curves[curves["method"] == "npe"]
    rows = []
    for target_budget, target in zip(npe["n_hf"], npe["value"]):
        for (method, n_lf), curve in curves.groupby(["method", "n_lf"]):
            curve = curve.sort_values("n_hf")
            budget, bound = matching_budget(curve["n_hf"].to_numpy(), curve["value"].to_numpy(),
                                            target)
            cpu = np.interp(np.log(budget), np.log(curve["n_hf"]), curve["seconds"])
            rows.append((target, int(target_budget), method, n_lf, budget, cpu, bound))
    return pd.DataFrame(rows, columns=[f"target_{metric}", "npe_budget_of_target", "method",
                                       "n_lf", "n_hf_needed", "cpu_seconds", "bound"])
