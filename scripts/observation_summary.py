"""Rule observation_summary: one row per recording and model."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.observation.posterior import read_observation, summary_rows
from mfnpe.io.tables import write_csv

rows = [row for path in snakemake.input.posteriors for row in summary_rows(read_observation(path))]
table = pd.DataFrame(rows)
write_csv(table, snakemake.output.table)
known = table.dropna(subset=["hpd_level"]).astype({"inside_95": bool})
print("Share of recordings with known theta inside the 95% HPD region, per model:")
print(known.groupby(["method", "n_lf", "n_hf", "seed"])["inside_95"].mean().to_string())
