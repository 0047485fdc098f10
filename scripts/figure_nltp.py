"""Rule figure_nltp: NLTP against HF budget, mean and 95% interval over seeds; with
sequential inference on, a second panel of -log q(true theta) on the recordings."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import pandas as pd

from mfnpe.plots import evaluation as plots
from mfnpe.plots.theme import save_figure

recordings = (pd.read_csv(snakemake.input.sequential)
              if "sequential" in snakemake.input.keys() else None)
figure = plots.nltp_vs_budget(pd.read_csv(snakemake.input.metrics), recordings)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
