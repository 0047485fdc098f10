"""Many cells, one network: a table with one row per observed cell (``cells.csv``).

Every recording of a run (the recording stimulus, its further cells, the synthetic
examples) is inferred with the same trained networks. Its row holds one model's posterior
(the predictive check's MF-NPE, ``mfnpe.plan.observations.ppc_runs``): mean, SD and the
5/50/95 % quantiles per parameter, the known θ's HPD level where there is one, the
misspecification verdict, the measure of fit over the sweeps (worst sweep) and, for an
ABF/NWB file with a hyperpolarising epoch, its passive card (medians over the pulses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mfnpe.names import RUN_KEYS
from mfnpe.observation.passive import PassiveCard
from mfnpe.observation.posterior import ObservationPosterior, model_index

QUANTILES = (0.05, 0.5, 0.95)
"""The posterior quantiles of every parameter in the table (columns ``q05_``, ``q50_``,
``q95_``)."""
PASSIVE = (("rest_mV", "passive_rest_mV"), ("input_resistance_MOhm", "passive_rin_MOhm"),
           ("tau_m_ms", "passive_tau_ms"), ("capacitance_pF", "passive_cm_pF"),
           ("area_um2", "passive_area_um2"), ("sag_ratio", "passive_sag"))
"""(PassiveCard field, column): the card's medians over its pulses."""
OBSERVED = ("misspecification_p", "misspecification_flagged", "fit_n", "fit_spikes_worst",
            "fit_all_worst", "fit_silent_worst", "fit_blocked_worst", "fit_prestim_worst",
            "fit_map_spikes_worst")
"""The columns taken from the recording's row of observations.csv for the chosen model."""


def quantile_name(q: float) -> str:
    return f"q{round(100 * q):02d}"


def cell_row(result: ObservationPosterior, run: Mapping, observed: Mapping,
             card: PassiveCard | None) -> dict:
    """One cell's row: ``recording``, the model (``RUN_KEYS``), per parameter ``mean_``,
    ``sd_``, ``q05_``, ``q50_``, ``q95_`` (and ``true_`` where θ is known), ``hpd_level``
    and ``inside_95``, the :data:`OBSERVED` columns of its observations.csv row (``observed``)
    and the passive card's medians (NaN without a card)."""
    index = model_index(result, run)
    draws = result.samples[index]  # (S, d)
    row = {"recording": result.name, **{key: run[key] for key in RUN_KEYS}}
    known = result.theta_true is not None
    quantiles = np.quantile(draws, QUANTILES, axis=0)  # (3, d)
    for j, name in enumerate(result.param_names):
        row[f"mean_{name}"] = float(draws[:, j].mean())
        row[f"sd_{name}"] = float(draws[:, j].std(ddof=1))
        for q, value in zip(QUANTILES, quantiles[:, j]):
            row[f"{quantile_name(q)}_{name}"] = float(value)
        row[f"true_{name}"] = float(result.theta_true[j]) if known else np.nan
    level = float(result.hpd_level[index])
    row["hpd_level"] = level if known else np.nan
    row["inside_95"] = bool(level <= 0.95) if known else None
    for column in OBSERVED:
        row[column] = observed.get(column, np.nan)
    for field, column in PASSIVE:
        row[column] = float(getattr(card, field).median) if card is not None else np.nan
    return row


def cells_table(results: Sequence[ObservationPosterior], run: Mapping,
                observations: pd.DataFrame, cards: Mapping[str, PassiveCard | None]
                ) -> pd.DataFrame:
    """:func:`cell_row` of every recording (``observations``: observations.csv; ``cards``:
    recording name -> its passive card or None), sorted by recording."""
    rows = []
    for result in results:
        mine = observations[(observations["recording"] == result.name)
                            & np.logical_and.reduce([observations[key] == run[key]
                                                     for key in RUN_KEYS])]
        observed = mine.iloc[0].to_dict() if len(mine) else {}
        rows.append(cell_row(result, run, observed, cards.get(result.name)))
    return pd.DataFrame(rows).sort_values("recording", ignore_index=True)
