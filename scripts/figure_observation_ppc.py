"""Rule figure_observation_ppc: posterior predictive check of one recording (a note in the
title when its features are atypical of the simulations), with its measure of fit per
sweep and model (mfnpe.observation.fit): a note in each trace panel, a trace at the MAP,
the tolerance band of each feature."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import numpy as np

from mfnpe.observation.fit import panel_note, recording_fit, tolerance_bands
from mfnpe.observation.misspecification import read_typicality
from mfnpe.observation.posterior import read_predictive
from mfnpe.stimulus.sweeps import is_recording
from mfnpe.stimulus.windows import epoch_windows
from mfnpe.plots.observation import predictive_check, with_note
from mfnpe.plots.theme import save_figure

check = read_predictive(snakemake.input.ppc)
stimulus = snakemake.params.stimulus
fit = recording_fit(check)
notes = {}
for model in fit.models:
    at_map = model.map.sweeps if model.map else [None] * len(model.predictive.sweeps)
    notes[model.run["method"]] = [panel_note(sweep, map_sweep) for sweep, map_sweep
                                  in zip(model.predictive.sweeps, at_map)]
sweeps = None
if is_recording(stimulus):  # one row of trace panels per sweep, its feature window shaded
    sweeps = [(f"sweep {p['sweep']}", int(round(p["duration"] / check.trace_dt)),
               epoch_windows(p["epochs"])[1:]) for p in stimulus["protocols"]]
figure = predictive_check(
    np.arange(len(check.trace)) * check.trace_dt,
    check.trace,
    {method: found.traces for method, found in check.sets.items()},
    check.x,
    {method: found.x[found.valid] for method, found in check.sets.items()},
    check.feature_names,
    title=with_note(f"{check.name}: posterior predictive check (HF simulations at posterior "
                    "draws)", read_typicality(snakemake.input.typicality).title_note()),
    window=None if sweeps else (stimulus["t_on"], stimulus["t_off"]),
    sweeps=sweeps,
    notes=notes,
    map_traces={method: found.traces[int(np.argmax(found.valid))]  # a valid one if any
                for method, found in check.map_sets.items() if len(found.traces)},
    tolerances=tolerance_bands(check.x, check.feature_names),
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
