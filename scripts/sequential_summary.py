"""Rule sequential_summary: one row per recording, method, seed and HF budget (sequential
after every round, amortized MF-NPE and NPE), and every C2ST comparison."""

import sys

sys.stdout = sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from mfnpe.observe import read_observation
from mfnpe.sequential_compare import table_rows

rows = [row for sequential, amortized in
        zip(snakemake.input.sequential, snakemake.input.amortized, strict=True)
        for row in table_rows(read_observation(sequential), read_observation(amortized))]
table = pd.DataFrame(rows)
table.to_csv(snakemake.output.table, index=False)
c2st = pd.concat([pd.read_csv(path) for path in snakemake.input.c2st], ignore_index=True)
c2st.to_csv(snakemake.output.c2st, index=False)
known = table.dropna(subset=["nltp_true"])
print("-log q(true theta), mean over recordings with known theta and seeds:")
print(known.pivot_table(index="n_hf", columns="method", values="nltp_true").round(2).to_string())
print("C2ST at the final budget, mean over recordings and seeds:")
print(c2st.groupby(["method_a", "method_b"])["c2st"].mean().round(3).to_string())
