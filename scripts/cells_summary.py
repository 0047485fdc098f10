"""Rule cells_summary: one row per cell of a many-cell run (cells.csv: the MF-NPE
posterior's mean, SD and quantiles, the verdict, the measure of fit and the passive card)."""

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

log = logging.getLogger("cells_summary")
results = [read_observation(path) for path in snakemake.input.posteriors]
cards = {}
for result, path in zip(results, snakemake.input.recordings, strict=True):
    cards[result.name] = None
    if Path(path).suffix.lower() in EPHYS_SUFFIXES:
        try:
            cards[result.name] = passive_card(path)
        except (NoHyperpolarisingEpochError, NoPassivePulseError) as err:
            log.info("%s: no passive card: %s", result.name, err)
table = cells_table(results, snakemake.params.run, pd.read_csv(snakemake.input.observations),
                    cards)
write_csv(table, snakemake.output.table)
known = table.dropna(subset=["hpd_level"])
if len(known):
    log.info("known theta inside the 95%% region: %d of %d", int(known["inside_95"].sum()),
             len(known))
