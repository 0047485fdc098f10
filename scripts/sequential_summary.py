"""Rule sequential_summary: one row per recording, method, seed and HF budget (sequential
after every round, amortized MF-NPE and NPE), its means over seeds, and every C2ST
comparison."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.observation.posterior import read_observation
from mfnpe.evaluation.sequential import cases_at_least_as_good, nltp_over_seeds, table_rows
from mfnpe.io.tables import write_csv

rows = [row for sequential, amortized in
        zip(snakemake.input.sequential, snakemake.input.amortized, strict=True)
        for row in table_rows(read_observation(sequential), read_observation(amortized))]
table = pd.DataFrame(rows)
write_csv(table, snakemake.output.table)
over_seeds = nltp_over_seeds(table)
write_csv(over_seeds, snakemake.output.over_seeds)
c2st = pd.concat([pd.read_csv(path) for path in snakemake.input.c2st], ignore_index=True)
write_csv(c2st, snakemake.output.c2st)
print("-log q(true theta), mean over recordings with known theta, then over seeds:")
print(over_seeds[over_seeds["metric"] == "nltp_true:mean"]
      .pivot_table(index="n_hf", columns="method", values="mean").round(2).to_string())
print("C2ST at the final budget, mean over recordings and seeds:")
print(c2st.groupby(["method_a", "method_b"])["c2st"].mean().round(3).to_string()
      if len(c2st) else "  none: no two posteriors share a final HF budget")
methods = set(table["method"])
for method in ("mf_tsnpe", "a_mf_tsnpe"):
    if {method, "mf_npe"} <= methods:
        k, n = cases_at_least_as_good(table, method, "mf_npe")
        print(f"{method} at least as good as MF-NPE (same recording, seed, HF budget): {k} of {n}")
