"""Summary tables: the saving factor's log-budget interpolation and its bounds, and the
calibration verdicts."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mfnpe.evaluation.cost import cost_to_reach
from mfnpe.evaluation.tables import calibration_table, matching_budget, over_seeds, saving_factors


def test_matching_budget_interpolates_in_log_budget():
    budgets, nltp = np.array([50, 100, 200, 400]), np.array([9.0, 8.0, 7.0, 6.0])
    # halfway between 100 and 200 in NLTP is their geometric mean in budget
    budget, bound = matching_budget(budgets, nltp, 7.5)
    assert bound == "exact" and budget == pytest.approx(np.sqrt(100 * 200))
    assert matching_budget(budgets, nltp, 8.0) == (pytest.approx(100.0), "exact")
    assert matching_budget(budgets, nltp, 5.0) == (400.0, "lower")   # needs more than 400
    assert matching_budget(budgets, nltp, 9.5) == (50.0, "upper")    # fewer than 50 suffice
    # order of the input does not matter
    assert matching_budget(budgets[::-1], nltp[::-1], 7.5)[0] == pytest.approx(budget)


def test_saving_factor_per_seed_against_the_same_seeds_npe():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.5)):
        for n_hf, value in ((50, 9.0), (100, 8.0), (200, 7.0), (400, 6.0)):
            rows.append(("npe", 0, n_hf, seed, "nltp", value + shift))
        rows.append(("mf_npe", 1000, 50, seed, "nltp", 7.0))
        rows.append(("mf_npe", 1000, 100, seed, "nltp", 5.0))
        rows.append(("mf_npe", 1000, 50, seed, "nrmse", 0.1))
    frame = pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "seed", "metric", "value"])
    saving = saving_factors(frame).set_index(["n_hf", "seed"])
    assert saving.loc[(50, 0), "npe_budget"] == pytest.approx(200.0)
    assert saving.loc[(50, 0), "saving"] == pytest.approx(4.0)
    # seed 1's NPE is 0.5 nats worse: it reaches 7.0 halfway (in log) from 200 to 400
    assert saving.loc[(50, 1), "saving"] == pytest.approx(np.sqrt(200 * 400) / 50)
    assert saving.loc[(100, 0), "bound"] == "lower"
    assert saving.loc[(100, 0), "saving"] == pytest.approx(4.0)
    assert len(saving) == 4


def test_calibration_table_verdicts_name_the_failing_tests():
    # (method, n_hf, seed): sbc_p_gNa, sbc_p_gK, tarp_p, tarp_atc; threshold 0.05 / 3
    values = {("npe", 50, 0): (0.3, 0.5, 0.4, 0.01), ("npe", 50, 1): (0.02, 0.9, 0.2, -0.01),
              ("mf_npe", 50, 0): (0.001, 0.5, 1e-5, -0.08), ("mf_npe", 50, 1): (0.3, 0.5, 0.4, 0.0),
              ("lf_npe", 0, 0): (0.3, 1e-4, 1e-6, 0.1), ("lf_npe", 0, 1): (0.2, 0.01, 0.001, 0.07)}
    rows = []
    for (method, n_hf, seed), (p_na, p_k, tarp_p, atc) in values.items():
        passes = float(min(p_na, p_k, tarp_p) >= 0.05 / 3)
        for metric, value in (("sbc_p_gNa", p_na), ("sbc_p_gK", p_k), ("sbc_p_min", min(p_na, p_k)),
                              ("tarp_p", tarp_p), ("tarp_atc", atc), ("calibration_pass", passes),
                              ("nltp", 3.0)):
            rows.append((method, 0 if method == "npe" else 1000, n_hf, seed, metric, value))
    frame = pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "seed", "metric", "value"])
    table = calibration_table(frame, level=0.05).set_index("method")
    assert list(table.columns) == ["n_lf", "n_hf", "n_seeds", "n_pass", "sbc_p_min", "tarp_atc",
                                   "tarp_p", "verdict"]
    assert table.loc["npe", "verdict"] == "pass" and table.loc["npe", "n_pass"] == 2
    assert table.loc["mf_npe", "verdict"] == "fail (1/2 seeds: SBC gNa, TARP overconfident)"
    assert table.loc["lf_npe", "verdict"] == "fail (2/2 seeds: SBC gK, TARP underconfident)"
    assert table.loc["lf_npe", "n_pass"] == 0 and table.loc["mf_npe", "n_pass"] == 1
    assert table.loc["mf_npe", "sbc_p_min"] == 0.001 and table.loc["lf_npe", "tarp_p"] == 1e-6
    assert table.loc["lf_npe", "tarp_atc"] == pytest.approx(0.085)
    # a stricter level lets seed 1 of lf_npe (SBC p 0.01, TARP p 0.001) pass
    strict = calibration_table(frame, level=0.003).set_index("method")
    assert strict.loc["lf_npe", "verdict"] == "fail (1/2 seeds: SBC gK, TARP underconfident)"


def test_cost_to_reach_npe_targets_interpolates_budget_and_cost():
    rows, cost = [], []
    for seed in (0, 1):
        for n_hf, value in ((100, 8.0), (1000, 6.0)):
            rows.append(("npe", 0, n_hf, seed, "nltp", value))
            cost.append(("npe", 0, n_hf, seed, "HF simulation", 0.1 * n_hf))
            cost.append(("npe", 0, n_hf, seed, "training", 10.0 * (1 + seed)))
        for n_hf, value in ((100, 7.0), (1000, 5.0)):
            rows.append(("mf_npe", 500, n_hf, seed, "nltp", value))
            cost.append(("mf_npe", 500, n_hf, seed, "HF simulation", 0.1 * n_hf))
            cost.append(("mf_npe", 500, n_hf, seed, "pretraining", 100.0))
        rows.append(("lf_npe", 500, 0, seed, "nltp", 9.0))
    frame = pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "seed", "metric", "value"])
    cost = pd.DataFrame(cost, columns=["method", "n_lf", "n_hf", "seed", "stage", "seconds"])
    table = cost_to_reach(frame, cost).set_index(["npe_budget_of_target", "method"])
    assert len(table) == 4  # 2 targets x 2 curves, lf_npe has no budget curve
    # NPE reaches its own targets at its own budgets, at its mean cost over seeds (15 s train)
    assert table.loc[(1000, "npe"), "n_hf_needed"] == pytest.approx(1000)
    assert table.loc[(1000, "npe"), "cpu_seconds"] == pytest.approx(100 + 15)
    # MF-NPE reaches 6.0 halfway in log budget from 100 to 1000: sqrt(1e5) simulations, cost
    # interpolated in log budget too
    assert table.loc[(1000, "mf_npe"), "n_hf_needed"] == pytest.approx(np.sqrt(1e5))
    assert table.loc[(1000, "mf_npe"), "cpu_seconds"] == pytest.approx((110 + 200) / 2)
    assert table.loc[(1000, "mf_npe"), "bound"] == "exact"
    # 8.0 is already beaten at MF-NPE's smallest budget: an upper bound
    assert table.loc[(100, "mf_npe"), "bound"] == "upper"


def test_bounded_metrics_get_intervals_inside_their_range():
    rows = [dict(method="npe", n_lf=0, n_hf=50, seed=s, metric=m, value=v)
            for s, (passed, p, nltp) in enumerate([(1.0, 0.01, 4.0), (0.0, 0.4, 5.0),
                                                   (0.0, 0.9, 6.0)])
            for m, v in (("calibration_pass", passed), ("sbc_p_gNa", p), ("tarp_p", p),
                         ("nltp", nltp))]
    table = over_seeds(pd.DataFrame(rows)).set_index("metric")
    # 1 of 3 seeds passes: the exact binomial interval [0.0084, 0.906], not t's [-1.10, 1.77]
    passed = table.loc["calibration_pass"]
    assert passed["mean"] == pytest.approx(1 / 3)
    assert passed["ci_low"] == pytest.approx(0.00840, abs=1e-4)
    assert passed["ci_high"] == pytest.approx(0.90570, abs=1e-4)
    # p-values: the mean only
    for metric in ("sbc_p_gNa", "tarp_p"):
        assert np.isnan(table.loc[metric, "ci_low"]) and np.isnan(table.loc[metric, "ci_high"])
    # an unbounded metric keeps its Student-t interval: 5 -+ t(0.975, 2) * 1 / sqrt(3)
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert table.loc["nltp", "ci_low"] == pytest.approx(5 - half)
    assert table.loc["nltp", "ci_high"] == pytest.approx(5 + half)
