"""Rule observe: check a recording, compute its features and draw from every model."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads, torch=True)

import logging

from mfnpe.inference import Posterior
from mfnpe.observation.posterior import observe, write_observation
from mfnpe.observation.recordings import read_recording, recording_features, true_vector

settings = snakemake.params.settings
recording = read_recording(snakemake.input.recording, settings["protocol"])
x = recording_features(recording, settings["features"], settings["protocol"])
models = [Posterior.load(path, model["settings"])
          for path, model in zip(snakemake.input.models, settings["models"], strict=True)]
for path, model in zip(snakemake.input.models, models):
    if model.feature_names != settings["features"]:
        raise ValueError(f"{path}: trained on features {model.feature_names}, "
                         f"not {settings['features']}")
theta = true_vector(recording, list(models[0].prior.names))
result = observe(recording.name, str(recording.path), x, theta, models,
                 [model["run"] for model in settings["models"]], settings["posterior_samples"],
                 settings["seed"])
result.settings = settings
write_observation(snakemake.output.posterior, result)
logging.info("%s: features %s; true theta %s; HPD levels %s", recording.path,
             {name: round(float(v), 3) for name, v in zip(settings["features"], x)},
             recording.true_theta,
             result.hpd_level.round(3))
