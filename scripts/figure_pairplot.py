"""Rule figure_pairplot: NPE and MF-NPE posteriors for one test observation."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.plots import evaluation as plots
from mfnpe.evaluation.test_set import read_evaluation
from mfnpe.plots.theme import save_figure
from mfnpe.prior import BoxPrior

obs = int(snakemake.wildcards.obs)
evaluations = {method: read_evaluation(snakemake.input[method]) for method in ("npe", "mf_npe")}
for method, evaluation in evaluations.items():
    if obs >= len(evaluation.samples):
        raise ValueError(f"{snakemake.input[method]} keeps draws for {len(evaluation.samples)} "
                         f"observations, not observation {obs}")
reference = evaluations["npe"]
prior = snakemake.params.prior
figure = plots.pairplot(
    {method: ev.samples[obs] for method, ev in evaluations.items()},
    reference.theta[obs],
    BoxPrior.from_config({name: prior[name] for name in reference.param_names}),
    title=f"Test observation {obs}: posteriors from {reference.run['n_hf']} HF simulations",
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
