"""Rule figure_traces: LF and HF voltage traces at the same parameters."""

from mfnpe.runtime import start_job

start_job(snakemake.log[0], snakemake.threads)

import numpy as np

from mfnpe.plots import evaluation as plots
from mfnpe.io.shards import read_sim_shard
from mfnpe.plots.theme import save_figure

lf = read_sim_shard(snakemake.input.lf)
hf = read_sim_shard(snakemake.input.hf)
k = len(lf.theta)
if hf.traces is None or lf.traces is None:
    raise ValueError(f"{snakemake.input.hf} or {snakemake.input.lf} holds no traces")
if not np.allclose(lf.theta, hf.theta[:k]):
    raise ValueError(f"{snakemake.input.lf} and {snakemake.input.hf} are not at the same theta")
figure = plots.traces(
    np.arange(lf.traces.shape[1]) * lf.trace_dt, lf.traces,
    np.arange(hf.traces.shape[1]) * hf.trace_dt, hf.traces[:k],
    lf.theta, lf.param_names,
    lf_label=f"LF ({snakemake.params.simulators['lf']})",
    hf_label=f"HF ({snakemake.params.simulators['hf']})",
)
save_figure(figure, snakemake.output.png, snakemake.output.svg)
