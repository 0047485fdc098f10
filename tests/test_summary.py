"""Summary tables: the saving factor's log-budget interpolation and its bounds."""

import numpy as np
import pandas as pd
import pytest

from mfnpe.summary import matching_budget, saving_factors


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
