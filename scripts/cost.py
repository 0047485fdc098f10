"""Rule cost: CPU seconds per model and stage, from the workflow's benchmark files, and the
CPU time each method needs to reach the NLTP NPE reaches at each of its budgets."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.names import RUN_KEYS

from mfnpe.evaluation.cost import cost_frame, cost_to_reach
from mfnpe.io.tables import write_csv

runs = snakemake.params.runs  # input.train holds each run's training benchmark, in order
train = {tuple(run[k] for k in RUN_KEYS): path
         for run, path in zip(runs, snakemake.input.train)}
simulations = {"lf": list(snakemake.input.lf), "hf": list(snakemake.input.hf)}
frame = cost_frame(runs, simulations, train, snakemake.params.shard_size)
write_csv(frame, snakemake.output.cost)
print(frame.groupby(["method", "n_hf", "stage"])["seconds"].mean().to_string())

to_nltp = cost_to_reach(pd.read_csv(snakemake.input.metrics), frame)
write_csv(to_nltp, snakemake.output.to_nltp)
print("\nCPU seconds to reach NPE's NLTP at each of its budgets:")
print(to_nltp.to_string(index=False))
