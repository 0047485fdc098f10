"""Rule figure_sequential: one recording's sequential posteriors after each chain's last
round, with MF-NPE at the same HF budget (or the largest one below), training seed 0."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.plots import evaluation as plots
from mfnpe.observation.posterior import last_rounds, read_observation
from mfnpe.plots.theme import save_figure
from mfnpe.prior import BoxPrior

sequential = read_observation(snakemake.input.sequential)
amortized = read_observation(snakemake.input.amortized)
prior = snakemake.params.prior
last = last_rounds(sequential, seed=0)
samples = {method: sequential.samples[i] for method, i in last.items()}
final = max(sequential.runs[i]["n_hf"] for i in last.values())
n_lf = max(run["n_lf"] for run in amortized.runs)
mf_npe = [(run["n_hf"], i) for i, run in enumerate(amortized.runs)
          if run["method"] == "mf_npe" and run["seed"] == 0 and run["n_lf"] == n_lf]
below = [pair for pair in mf_npe if pair[0] <= final] or mf_npe
title = f"{sequential.name}: sequential posteriors after {final} HF simulations"
if below:
    n_hf, index = max(below)
    samples["mf_npe"] = amortized.samples[index]
    title += f" (MF-NPE: {n_hf})"
figure = plots.pairplot(
    samples,
    sequential.theta_true,
    BoxPrior.from_config({name: prior[name] for name in sequential.param_names}),
    title=title,
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
