"""Rule example_recording: simulate a synthetic example recording with known parameters."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import sys

from mfnpe.observation.predictive import synthetic_recording
from mfnpe.observation.recordings import write_recording

recording = synthetic_recording(snakemake.params.settings)
write_recording(snakemake.output.recording, recording)
print(f"{snakemake.output.recording}: {len(recording.time)} samples every {recording.dt} ms "
      f"at {recording.true_theta}", file=sys.stderr)
