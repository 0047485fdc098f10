"""Rule figure_cells: the population figure of a many-cell run (every cell's posterior
marginals side by side, mfnpe.plots.cells)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.observation.posterior import read_observation
from mfnpe.plots.cells import population_from_results
from mfnpe.plots.theme import save_figure
from mfnpe.prior import BoxPrior

run = snakemake.params.run
results = [read_observation(path) for path in snakemake.input.posteriors]
figure = population_from_results(
    results, run, BoxPrior.from_config(snakemake.params.prior),
    title=f"{len(results)} cells, one network: MF-NPE ({run['n_lf']} LF, {run['n_hf']} HF)")
save_figure(figure, snakemake.output.png, snakemake.output.svg)
