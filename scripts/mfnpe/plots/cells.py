"""The population figure of a run with many cells: each parameter's posterior marginal per
cell, side by side (one panel per parameter, one violin per cell), the known θ marked where
there is one, log axes for log-uniform parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mfnpe.observation.posterior import ObservationPosterior, model_index
from mfnpe.plots.theme import OTHER_COLORS, method_color, subplots, themed
from mfnpe.prior import BoxPrior

TRUE_MARKER = dict(marker="x", color="black", s=30, zorder=5, linewidths=1.2)
"""How a known θ is drawn over its cell's violin."""


@themed
def population(samples: Mapping[str, np.ndarray], truths: Mapping[str, np.ndarray | None],
               prior: BoxPrior, method: str = "mf_npe", title: str = "") -> Figure:
    """One panel per parameter of ``prior``: the posterior draws of every cell
    (``samples``: name -> (S, d) in the prior's columns) as violins in name order, the
    prior's range as the axis limits (log scale for a log-uniform parameter) and each
    known θ (``truths``: name -> (d,) or None) as a cross."""
    names = sorted(samples)
    d = len(prior.names)
    ncols = min(d, 3)
    nrows = int(np.ceil(d / ncols))
    fig, axes = subplots(nrows, ncols, figsize=(3.0 * ncols, 0.35 * len(names) * nrows + 1.2),
                         squeeze=False)
    color = method_color(method)
    for j, parameter in enumerate(prior.names):
        ax = axes.flat[j]
        log = prior.scale[j] == "log"
        frame = pd.DataFrame({
            "cell": np.repeat(names, [len(samples[n]) for n in names]),
            "value": np.concatenate([samples[n][:, j] for n in names])})
        sns.violinplot(frame, x="value", y="cell", order=names, ax=ax, color=color,
                       inner="quartile", cut=0, density_norm="width", linewidth=0.6,
                       log_scale=log)
        for k, name in enumerate(names):
            truth = truths.get(name)
            if truth is not None:
                ax.scatter([truth[j]], [k], **TRUE_MARKER)
        ax.set_xlim(prior.low[j], prior.high[j])
        ax.set_xlabel(parameter)
        ax.set_ylabel("" if j % ncols else "cell")
        if j % ncols:
            ax.tick_params(labelleft=False)
    for ax in list(axes.flat)[d:]:
        ax.set_visible(False)
    if any(t is not None for t in truths.values()):
        axes.flat[0].scatter([], [], label="known θ", **TRUE_MARKER)
        axes.flat[0].legend(loc="lower right", frameon=False, fontsize=7,
                            labelcolor=OTHER_COLORS[0])
    fig.suptitle(title)
    return fig


def population_from_results(results: Sequence[ObservationPosterior], run: Mapping,
                            prior: BoxPrior, title: str = "") -> Figure:
    """:func:`population` of every cell's posterior (``results``) at model ``run``."""
    samples = {r.name: r.samples[model_index(r, run)] for r in results}
    truths = {r.name: r.theta_true for r in results}
    return population(samples, truths, prior, run["method"], title)
