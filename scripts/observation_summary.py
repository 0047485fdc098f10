"""Rule observation_summary: one row per recording and model (the amortized ones, and each
sequential chain's final round that the predictive check simulated), with the recording's
misspecification verdict and its own per-sweep state (repeated over its models) and, for
the predictive-check models, the measure of fit (mfnpe.observation.fit; docs/recordings.md,
"Measure of fit")."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.observation.fit import console_lines, model_columns, recording_columns, recording_fit
from mfnpe.observation.misspecification import read_typicality, summary_columns
from mfnpe.observation.posterior import read_observation, read_predictive, summary_rows
from mfnpe.io.tables import write_csv
from mfnpe.names import RUN_KEYS

sequential = {}  # recording -> its sequential chains' rows whose final round was checked
for path in snakemake.input.sequential:
    result = read_observation(path)
    sequential[result.name] = summary_rows(result)
rows = []
for path, verdict_path, ppc_path in zip(snakemake.input.posteriors, snakemake.input.typicalities,
                                        snakemake.input.ppcs, strict=True):
    verdict = summary_columns(read_typicality(verdict_path))
    fit = recording_fit(read_predictive(ppc_path))
    recorded = recording_columns(fit)
    result = read_observation(path)
    for row in summary_rows(result):
        found = fit.model({key: row[key] for key in RUN_KEYS})
        rows.append({**row, **verdict, **recorded, **(model_columns(found) if found else {})})
    for row in sequential.get(result.name, []):
        found = fit.model({key: row[key] for key in RUN_KEYS})
        if found:
            rows.append({**row, **verdict, **recorded, **model_columns(found)})
table = pd.DataFrame(rows)
write_csv(table, snakemake.output.table)
known = table.dropna(subset=["hpd_level"]).astype({"inside_95": bool})
if known.empty:
    print("No recording has known parameters (no synthetic examples in "
          "observations/examples): no share inside the 95% HPD region.")
else:
    print("Share of recordings with known theta inside the 95% HPD region, per model:")
    print(known.groupby(["method", "n_lf", "n_hf", "seed"])["inside_95"].mean().to_string())
flagged = table.drop_duplicates("recording").query("misspecification_flagged")
print(f"Recordings atypical of the simulations: {list(flagged['recording']) or 'none'}")
print("Measure of fit (worst sweep):")
print("\n".join(console_lines(snakemake.output.table)))
