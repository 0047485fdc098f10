"""Rule figure_cost: CPU time per method and HF budget, by stage (mean over seeds)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.plots import evaluation as plots
from mfnpe.plots.theme import save_figure

cost = pd.read_csv(snakemake.input.cost)
largest_lf = cost.loc[cost["method"] == "mf_npe", "n_lf"].max()
cost = cost[(cost["method"] == "npe") | (cost["n_lf"] == largest_lf)]
mean = cost.groupby(["method", "n_hf", "stage"], as_index=False)["seconds"].mean()
save_figure(plots.cost(mean), snakemake.output.png, snakemake.output.svg)
