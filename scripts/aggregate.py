"""Rule aggregate: every evaluation -> long-form metrics, means over seeds, saving factors
and calibration verdicts."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

from mfnpe.evaluation.test_set import read_evaluation
from mfnpe.evaluation.tables import (calibration_table, headline, metrics_frame, over_seeds,
                                    saving_factors, saving_over_seeds)
from mfnpe.io.tables import write_csv

frame = metrics_frame(read_evaluation(path) for path in snakemake.input.evaluations)
table = over_seeds(frame)
write_csv(frame, snakemake.output.metrics)
write_csv(table, snakemake.output.table)
saving = saving_factors(frame)
write_csv(saving, snakemake.output.saving)
print(headline(table).to_string(index=False))
saving_summary = saving_over_seeds(saving)
write_csv(saving_summary, snakemake.output.saving_over_seeds)
print("\nHF-simulation saving of MF-NPE (NPE budget with equal NLTP / MF-NPE budget):")
print(saving_summary.to_string(index=False))
calibration = calibration_table(frame, snakemake.params.level)
write_csv(calibration, snakemake.output.calibration)
print(f"\nCalibration (SBC and TARP KS tests at family-wise level {snakemake.params.level}):")
print(calibration.to_string(index=False))
