"""Rule figure_calibration: SBC rank histograms and TARP coverage of LF-NPE, NPE and MF-NPE
at one HF budget."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.plots import evaluation as plots
from mfnpe.evaluation.test_set import read_evaluation
from mfnpe.plots.theme import save_figure

evaluations = {method: read_evaluation(snakemake.input[method])
               for method in ("lf_npe", "npe", "mf_npe")}
run = evaluations["mf_npe"].run
figure = plots.calibration(
    evaluations, evaluations["npe"].param_names,
    title=f"Calibration at {run['n_hf']} HF simulations (LF-NPE, MF-NPE: {run['n_lf']} LF; "
          "seed 0)",
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
