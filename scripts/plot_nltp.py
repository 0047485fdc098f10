"""Rule figure_nltp: NLTP against HF budget, mean and 95% interval over seeds."""

import sys

sys.stdout = sys.stderr = open(snakemake.log[0], "w")

import pandas as pd

from mfnpe import plots

figure = plots.nltp_vs_budget(pd.read_csv(snakemake.input.metrics))
plots.save_figure(figure, snakemake.output.png, snakemake.output.svg)
