"""Aggregate tables: per-model metrics in long form, means over seeds, calibration
verdicts and saving factors."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from mfnpe.evaluation import metrics
from mfnpe.evaluation.metrics import mean_interval
from mfnpe.names import RUN_KEYS

RUN_COLUMNS = list(RUN_KEYS)


def metrics_frame(evaluations: Iterable) -> pd.DataFrame:
    """Long form: one row per (method, n_lf, n_hf, seed, metric) with its ``value``."""
    rows = [{**{key: ev.run[key] for key in RUN_COLUMNS}, "metric": name, "value": value}
            for ev in evaluations for name, value in ev.metrics.items()]
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "metric", "value"])


PASS_FRACTIONS = ("calibration_pass",)
"""Metrics that are 0/1 per seed: over seeds, a share of passing seeds."""
P_VALUES = ("sbc_p_min", "tarp_p")
"""Metrics that are p-values (besides every ``sbc_p_<parameter>``)."""


def seed_interval(metric: str, values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean over seeds and its ``level`` interval, one that respects the metric's range:
    an exact (Clopper-Pearson) interval for a pass fraction (k of n seeds), none (NaN)
    for a p-value (a mean of p-values has no meaningful t interval, and one would leave
    [0, 1]), Student-t for the rest."""
    values = np.asarray(values, dtype=float)
    if metric in PASS_FRACTIONS:
        k, n = int(round(values.sum())), len(values)
        low, high = stats.binomtest(k, n).proportion_ci(level, method="exact")
        return float(values.mean()), float(low), float(high)
    if metric in P_VALUES or metric.startswith("sbc_p_"):
        return float(values.mean()), float("nan"), float("nan")
    return mean_interval(values, level)


def over_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval over seeds per (method, n_lf, n_hf, metric)
    (:func:`seed_interval`: Student-t, exact binomial for pass fractions, none for
    p-values)."""
    rows = []
    for key, group in frame.groupby(["method", "n_lf", "n_hf", "metric"], sort=True):
        mean, low, high = seed_interval(key[-1], group["value"].to_numpy())
        rows.append((*key, mean, low, high, len(group)))
    return pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "metric", "mean", "ci_low",
                                       "ci_high", "n_seeds"])


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
