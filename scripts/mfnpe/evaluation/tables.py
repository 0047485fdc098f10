"""Aggregate tables: per-model metrics in long form, means over seeds, calibration
verdicts, saving factors and CPU cost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mfnpe.evaluation import metrics
from mfnpe.evaluation.metrics import mean_interval
from mfnpe.names import RUN_KEYS

RUN_COLUMNS = list(RUN_KEYS)


def metrics_frame(evaluations: Iterable) -> pd.DataFrame:
    """Long form: one row per (method, n_lf, n_hf, seed, metric) with its ``value``."""
    rows = [{**{key: ev.run[key] for key in RUN_COLUMNS}, "metric": name, "value": value}
            for ev in evaluations for name, value in ev.metrics.items()]
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "metric", "value"])


def over_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% Student-t interval over seeds per (method, n_lf, n_hf, metric)."""
    rows = []
    for key, group in frame.groupby(["method", "n_lf", "n_hf", "metric"], sort=True):
        mean, low, high = mean_interval(group["value"].to_numpy())
        rows.append((*key, mean, low, high, len(group)))
    return pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "metric", "mean", "ci_low",
                                       "ci_high", "n_seeds"])


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


def headline(table: pd.DataFrame) -> pd.DataFrame:
    """NLTP mean [95% CI] per method and budget as a wide, readable table."""
    nltp = table[table["metric"] == "nltp"].copy()
    nltp["NLTP"] = [f"{m:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else f"{m:.2f}"
                    for m, lo, hi in zip(nltp["mean"], nltp["ci_low"], nltp["ci_high"])]
    return nltp[["method", "n_lf", "n_hf", "NLTP", "n_seeds"]].reset_index(drop=True)


def calibration_table(frame: pd.DataFrame, level: float) -> pd.DataFrame:
    """Calibration verdict per (method, n_lf, n_hf) from the long-form metrics ``frame``:
    n_seeds, n_pass (seeds passing every test), the smallest SBC p over seeds and
    parameters, the mean TARP ATC, the smallest TARP p, and ``verdict``: "pass" when every
    seed passes, else "fail (k/n seeds: SBC gNa, TARP overconfident)" naming the failing
    tests (at family-wise ``level``, as in the evaluations)."""
    wide = frame.pivot_table(index=RUN_COLUMNS, columns="metric", values="value")
    sbc_columns = [c for c in wide.columns if c.startswith("sbc_p_") and c != "sbc_p_min"]
    rows = []
    for key, group in wide.groupby(["method", "n_lf", "n_hf"], sort=True):
        failures = [metrics.calibration_failures(
            {c.removeprefix("sbc_p_"): seed[c] for c in sbc_columns}, seed["tarp_p"],
            seed["tarp_atc"], level) for _, seed in group.iterrows()]
        failing = [f for f in failures if f]
        reasons = ", ".join(dict.fromkeys(name for f in failing for name in f))
        verdict = f"fail ({len(failing)}/{len(group)} seeds: {reasons})" if failing else "pass"
        rows.append((*key, len(group), len(group) - len(failing),
                     group["sbc_p_min"].min(), group["tarp_atc"].mean(), group["tarp_p"].min(),
                     verdict))
    return pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "n_seeds", "n_pass",
                                       "sbc_p_min", "tarp_atc", "tarp_p", "verdict"])


def write_csv(frame: pd.DataFrame, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def matching_budget(budgets: np.ndarray, values: np.ndarray, target: float) -> tuple[float, str]:
    """The budget at which the curve ``values`` (decreasing in budget, e.g. NPE's NLTP over
    ``budgets``) reaches ``target``, interpolating linearly in log(budget).

    Returns ``(budget, bound)``: bound is "exact" for a crossing inside the range,
    "lower" when even the largest budget does not reach the target (the true budget is
    larger), "upper" when the smallest budget already reaches it (it is smaller)."""
    order = np.argsort(budgets)
    budgets, values = np.asarray(budgets, float)[order], np.asarray(values, float)[order]
    if values[0] <= target:
        return float(budgets[0]), "upper"
    for k in range(1, len(budgets)):
        if values[k] <= target:
            fraction = (values[k - 1] - target) / (values[k - 1] - values[k])
            log_budget = np.log(budgets[k - 1]) + fraction * np.log(budgets[k] / budgets[k - 1])
            return float(np.exp(log_budget)), "exact"
    return float(budgets[-1]), "lower"


def saving_factors(frame: pd.DataFrame, metric: str = "nltp") -> pd.DataFrame:
    """HF-simulation saving of MF-NPE per (n_lf, n_hf, seed): the NPE budget (same seed)
    whose ``metric`` equals MF-NPE's at n_hf, divided by n_hf (docs/method.md, "Evaluation").

    ``bound`` says whether the factor is exact or only a lower/upper bound (the match lies
    beyond the NPE budgets that were trained)."""
    values = frame[frame["metric"] == metric]
    npe = values[values["method"] == "npe"]
    rows = []
    for (n_lf, n_hf, seed), group in values[values["method"] == "mf_npe"].groupby(
            ["n_lf", "n_hf", "seed"]):
        curve = npe[npe["seed"] == seed]
        if curve.empty:
            continue
        budget, bound = matching_budget(curve["n_hf"].to_numpy(), curve["value"].to_numpy(),
                                        float(group["value"].iloc[0]))
        rows.append((n_lf, n_hf, seed, budget, budget / n_hf, bound))
    return pd.DataFrame(rows, columns=["n_lf", "n_hf", "seed", "npe_budget", "saving", "bound"])


def saving_over_seeds(saving: pd.DataFrame) -> pd.DataFrame:
    """Geometric mean of the saving factor over seeds with a 95% Student-t interval (on
    log saving) per (n_lf, n_hf); ``bound`` is "lower"/"upper" if any seed's factor is one."""
    rows = []
    for (n_lf, n_hf), group in saving.groupby(["n_lf", "n_hf"]):
        mean, low, high = np.exp(mean_interval(np.log(group["saving"].to_numpy())))
        bounds = set(group["bound"]) - {"exact"}
        rows.append((n_lf, n_hf, mean, low, high, len(group), "/".join(sorted(bounds)) or "exact"))
    return pd.DataFrame(rows, columns=["n_lf", "n_hf", "saving", "ci_low", "ci_high", "n_seeds",
                                       "bound"])


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
