"""Rule aggregate: every evaluation -> long-form metrics and means over seeds."""

import sys

sys.stdout = sys.stderr = open(snakemake.log[0], "w")

from mfnpe.evaluation import read_evaluation
from mfnpe.summary import headline, metrics_frame, over_seeds, write_csv

frame = metrics_frame(read_evaluation(path) for path in snakemake.input.evaluations)
table = over_seeds(frame)
write_csv(frame, snakemake.output.metrics)
write_csv(table, snakemake.output.table)
print(headline(table).to_string(index=False))
