"""Rule example_recording: simulate a synthetic example recording with known parameters."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import sys

from mfnpe.observation.predictive import synthetic_recording
from mfnpe.recordings.step import write_recording
from mfnpe.recordings.sweeps import SweepRecording, write_sweep_recording
from mfnpe.simulation.experiment import ExperimentSimulation

settings = snakemake.params.settings  # name, theta, simulator, model, stimulus, seed
experiment = ExperimentSimulation.from_dict(  # its simulator, model and stimulus
    {**settings, "features": [], "trace_dt": None})
recording = synthetic_recording(settings["name"], settings["theta"], experiment,
                                settings["seed"])
if isinstance(recording, SweepRecording):  # under a recording stimulus: one trace per sweep
    write_sweep_recording(snakemake.output.recording, recording,
                          settings["stimulus"]["protocols"])
    print(f"{snakemake.output.recording}: sweeps {recording.sweeps}, every {recording.dts[0]} "
          f"ms, at {recording.true_theta}", file=sys.stderr)
else:
    write_recording(snakemake.output.recording, recording)
    print(f"{snakemake.output.recording}: {len(recording.time)} samples every {recording.dt} "
          f"ms at {recording.true_theta}", file=sys.stderr)
