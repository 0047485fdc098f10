"""Rule aggregate: every evaluation -> long-form metrics, means over seeds, saving factors."""

import sys

sys.stdout = sys.stderr = open(snakemake.log[0], "w")

from mfnpe.evaluation import read_evaluation
from mfnpe.summary import (headline, metrics_frame, over_seeds, saving_factors,
                           saving_over_seeds, write_csv)

frame = metrics_frame(read_evaluation(path) for path in snakemake.input.evaluations)
table = over_seeds(frame)
write_csv(frame, snakemake.output.metrics)
write_csv(table, snakemake.output.table)
saving = saving_factors(frame)
write_csv(saving, snakemake.output.saving)
print(headline(table).to_string(index=False))
print("\nHF-simulation saving of MF-NPE (NPE budget with equal NLTP / MF-NPE budget):")
print(saving_over_seeds(saving).to_string(index=False))
