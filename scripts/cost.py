"""Rule cost: CPU seconds per model and stage, from the workflow's benchmark files."""

import sys

sys.stdout = sys.stderr = open(snakemake.log[0], "w")

from mfnpe.summary import cost_frame, write_csv

runs = snakemake.params.runs  # input.train holds each run's training benchmark, in order
train = {tuple(run[k] for k in ("method", "n_lf", "n_hf", "seed")): path
         for run, path in zip(runs, snakemake.input.train)}
simulations = {"lf": list(snakemake.input.lf), "hf": list(snakemake.input.hf)}
frame = cost_frame(runs, simulations, train, snakemake.params.shard_size)
write_csv(frame, snakemake.output.cost)
print(frame.groupby(["method", "n_hf", "stage"])["seconds"].mean().to_string())
