"""Rule report_page: the HTML report's first page (``make report``): what the run found
(mfnpe.observation.run_summary: per recording its misspecification verdict, measure of fit
and figures, or why there is none) above the workflow's description
(workflow/report/workflow.rst, whose Jinja Snakemake renders when it builds the report)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from pathlib import Path

from mfnpe.observation.run_summary import report_text, run_outcome

outcome = run_outcome(snakemake.params.table, snakemake.params.figures)
found = report_text(outcome)
print(found)
template = Path(snakemake.input.template).read_text()
Path(snakemake.output.page).write_text(f"{found}\n{template}")
