"""Rule figure_observation_pairplot: MF-NPE and NPE posteriors of one recording (a note
in the title when its features are atypical of the simulations)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.plots import evaluation as plots
from mfnpe.observation.misspecification import read_typicality
from mfnpe.observation.posterior import model_index, read_observation
from mfnpe.plots.observation import with_note
from mfnpe.plots.theme import save_figure
from mfnpe.prior import BoxPrior

result = read_observation(snakemake.input.posterior)
runs, prior = snakemake.params.runs, snakemake.params.prior
figure = plots.pairplot(
    {run["method"]: result.samples[model_index(result, run)] for run in runs},
    result.theta_true,
    BoxPrior.from_config({name: prior[name] for name in result.param_names}),
    title=with_note(f"{result.name}: posteriors from {runs[0]['n_hf']} HF simulations",
                    read_typicality(snakemake.input.typicality).title_note()),
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
