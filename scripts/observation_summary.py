"""Rule observation_summary: one row per recording and model, with the recording's
misspecification verdict (repeated over its models)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.observation.misspecification import read_typicality, summary_columns
from mfnpe.observation.posterior import read_observation, summary_rows
from mfnpe.io.tables import write_csv

rows = []
for path, verdict_path in zip(snakemake.input.posteriors, snakemake.input.typicalities,
                              strict=True):
    verdict = summary_columns(read_typicality(verdict_path))
    rows += [{**row, **verdict} for row in summary_rows(read_observation(path))]
table = pd.DataFrame(rows)
write_csv(table, snakemake.output.table)
known = table.dropna(subset=["hpd_level"]).astype({"inside_95": bool})
print("Share of recordings with known theta inside the 95% HPD region, per model:")
print(known.groupby(["method", "n_lf", "n_hf", "seed"])["inside_95"].mean().to_string())
flagged = table.drop_duplicates("recording").query("misspecification_flagged")
print(f"Recordings atypical of the simulations: {list(flagged['recording']) or 'none'}")
