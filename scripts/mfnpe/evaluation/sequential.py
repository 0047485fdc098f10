"""Sequential against amortized posteriors of one recording: C2ST between every method's
posterior after its last round, and the rows of the sequential summary table."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from mfnpe.evaluation import metrics
from mfnpe.observation.posterior import ObservationPosterior, last_rounds, summary_rows
from mfnpe.evaluation.tables import over_seeds

AMORTIZED = ("mf_npe", "npe")
C2ST_COLUMNS = ("recording", "seed", "n_hf", "method_a", "method_b", "c2st")


def _final_posteriors(sequential: ObservationPosterior, amortized: ObservationPosterior,
                      seed: int) -> tuple[int, dict]:
    """The final HF budget of seed ``seed``'s chains and ``{method: (S, d) draws}`` there:
    every sequential method after its last round (LF-TSNPE's, without HF simulations,
    too), and MF-NPE (the largest LF size) and NPE when trained with that budget and
    seed."""
    last = last_rounds(sequential, seed)
    final = max(sequential.runs[i]["n_hf"] for i in last.values())
    draws = {method: sequential.samples[i] for method, i in last.items()}
    n_lf = max(run["n_lf"] for run in amortized.runs)
    for i, run in enumerate(amortized.runs):
        if (run["method"] in AMORTIZED and run["seed"] == seed and run["n_hf"] == final
                and run["n_lf"] in (0, n_lf)):
            draws[run["method"]] = amortized.samples[i]
    return final, draws


def final_c2st(sequential: ObservationPosterior, amortized: ObservationPosterior,
               seed: int) -> pd.DataFrame:
    """Columns :data:`C2ST_COLUMNS`, a row per pair of posteriors at the final budget of
    each seed with at least one sequential method (c2st 0.5: the same posterior, 1:
    disjoint); no rows, the columns kept, where a chain has nothing to compare with
    (LF-TSNPE alone: no amortized model has its budget of 0 HF simulations)."""
    rows = []
    for chain_seed in sorted({run["seed"] for run in sequential.runs}):
        n_hf, draws = _final_posteriors(sequential, amortized, chain_seed)
        for a, b in combinations(draws, 2):
            if a in AMORTIZED and b in AMORTIZED:
                continue
            rows.append({"recording": sequential.name, "seed": chain_seed, "n_hf": n_hf,
                         "method_a": a, "method_b": b,
                         "c2st": metrics.c2st(draws[a], draws[b], seed=seed)})
    return pd.DataFrame(rows, columns=list(C2ST_COLUMNS))


def table_rows(sequential: ObservationPosterior, amortized: ObservationPosterior) -> list[dict]:
    """``observe.summary_rows`` of the sequential posteriors and of the amortized MF-NPE
    (the largest LF size, which the chains start from) and NPE ones of the chains' seeds, with ``nltp_true`` =
    -log q(theta_true | x_o)."""
    n_lf = max(run["n_lf"] for run in amortized.runs)  # the LF size chains pretrain on
    seeds = {run["seed"] for run in sequential.runs}
    rows = summary_rows(sequential) + [
        row for row in summary_rows(amortized)
        if row["method"] in AMORTIZED and row["n_lf"] in (0, n_lf) and row["seed"] in seeds]
    for row in rows:
        row["nltp_true"] = -row["log_prob_true"]
    return rows


def nltp_over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """``summary.over_seeds`` of -log q(theta_true | x_o) from the rows of
    :func:`table_rows`: metric ``nltp_true:<recording>`` per recording with known theta,
    and ``nltp_true:mean`` for the mean over those recordings (taken per seed first)."""
    known = table.dropna(subset=["nltp_true"]).rename(columns={"nltp_true": "value"})
    keys = ["method", "n_lf", "n_hf", "seed"]
    per_recording = known.assign(metric="nltp_true:" + known["recording"])
    averaged = (known.groupby(keys, as_index=False)["value"].mean()
                .assign(metric="nltp_true:mean"))
    return over_seeds(pd.concat([per_recording[keys + ["metric", "value"]], averaged]))


def cases_at_least_as_good(table: pd.DataFrame, method: str, reference: str) -> tuple[int, int]:
    """(k, n): in k of the n (recording, seed, n_hf) with both, ``method``'s
    -log q(theta_true | x_o) is at most ``reference``'s; (0, 0) when no recording has a
    known theta (real recordings only) for both."""
    wide = table.pivot_table(index=["recording", "seed", "n_hf"], columns="method",
                             values="nltp_true")
    if not {method, reference} <= set(wide.columns):
        return 0, 0
    wide = wide.dropna(subset=[method, reference])
    return int((wide[method] <= wide[reference]).sum()), len(wide)
