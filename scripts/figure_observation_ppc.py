"""Rule figure_observation_ppc: posterior predictive check of one recording (a note in the
title when its features are atypical of the simulations)."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import numpy as np

from mfnpe.observation.misspecification import read_typicality
from mfnpe.observation.posterior import read_predictive
from mfnpe.observation.sweeps import epoch_windows, is_recording
from mfnpe.plots.observation import predictive_check, with_note
from mfnpe.plots.theme import save_figure

check = read_predictive(snakemake.input.ppc)
stimulus = snakemake.params.stimulus
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
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
