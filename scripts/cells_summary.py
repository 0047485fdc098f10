"""Rule cells_summary: one row per cell of a many-cell run (cells.csv: the MF-NPE
posterior's mean, SD and quantiles, the verdict, the measure of fit and the passive card)
and the population figure (every cell's marginals side by side)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import logging
from pathlib import Path

import pandas as pd

from mfnpe.io.tables import write_csv
from mfnpe.names import EPHYS_SUFFIXES
from mfnpe.observation.cells import cells_table
from mfnpe.observation.passive import NoHyperpolarisingEpochError, NoPassivePulseError, passive_card
from mfnpe.observation.posterior import read_observation
from mfnpe.plots.cells import population_from_results
from mfnpe.plots.theme import save_figure
from mfnpe.prior import BoxPrior

log = logging.getLogger("cells_summary")
run = snakemake.params.run
results = [read_observation(path) for path in snakemake.input.posteriors]
cards = {}
for result, path in zip(results, snakemake.input.recordings, strict=True):
    cards[result.name] = None
    if Path(path).suffix.lower() in EPHYS_SUFFIXES:
        try:
            cards[result.name] = passive_card(path)
        except (NoHyperpolarisingEpochError, NoPassivePulseError) as err:
            log.info("%s: no passive card: %s", result.name, err)
table = cells_table(results, run, pd.read_csv(snakemake.input.observations), cards)
write_csv(table, snakemake.output.table)
figure = population_from_results(
    results, run, BoxPrior.from_config(snakemake.params.prior),
    title=f"{len(results)} cells, one network: MF-NPE ({run['n_lf']} LF, {run['n_hf']} HF)")
save_figure(figure, snakemake.output.png, snakemake.output.svg)
known = table.dropna(subset=["hpd_level"])
if len(known):
    log.info("known theta inside the 95%% region: %d of %d", int(known["inside_95"].sum()),
             len(known))
