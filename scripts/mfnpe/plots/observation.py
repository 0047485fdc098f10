"""Figures of observations: the posterior predictive check of one recording.

Posterior pairplots of observations reuse :func:`mfnpe.plots.evaluation.pairplot`; saving, colours and
style are those of :mod:`mfnpe.plots.evaluation`. Artists carry a ``gid`` (``"trace:observed"``,
``"trace:<method>"``, ``"interval:<method>:<feature>"``, ``"observed:<feature>"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mfnpe.plots.evaluation import METHOD_COLORS, STYLE, method_label

OBSERVED_COLOR = "black"
FEATURE_COLUMNS = 5


def predictive_check(t: np.ndarray, observed: np.ndarray, traces: Mapping[str, np.ndarray],
                     x_observed: np.ndarray, x_simulated: Mapping[str, np.ndarray],
                     feature_names: Sequence[str], title: str,
                     window: tuple[float, float] | None = None) -> Figure:
    """Posterior predictive check of one recording.

    Top, one panel per method: simulated traces ``traces[method]`` (k, T') [mV] at
    posterior draws over the recorded trace ``observed`` (T',), times ``t`` (T',) [ms],
    the stimulus ``window`` (t_on, t_off) [ms] shaded. Bottom, one panel per feature: the
    5–95% (thin) and 25–75% (thick) predictive intervals and the median of the valid
    simulations' features ``x_simulated[method]`` (n, f), and the observed value
    ``x_observed`` (f,) as a dashed line.
    """
    methods = list(traces)
    f = len(feature_names)
    if np.shape(x_observed) != (f,):
        raise ValueError(f"x_observed must be ({f},), got {np.shape(x_observed)}")
    for method in methods:
        if np.ndim(x_simulated[method]) != 2 or np.shape(x_simulated[method])[1] != f:
            raise ValueError(f"x_simulated[{method!r}] must be (n, {f}), "
                             f"got {np.shape(x_simulated[method])}")
    columns = min(FEATURE_COLUMNS, f)
    rows = math.ceil(f / columns)
    with rc_context(STYLE):
        fig = Figure(figsize=(1.5 * columns + 0.9, 2.6 + 1.5 * rows), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[2.4, 1.5 * rows])
        axes = top.subplots(1, len(methods), sharey=True, squeeze=False)[0]
        for ax, method in zip(axes, methods):
            _traces_panel(ax, t, observed, traces[method], method, window)
        axes[0].set_ylabel("V (mV)")
        panels = bottom.subplots(rows, columns, squeeze=False).ravel()
        for j, name in enumerate(feature_names):
            _feature_panel(panels[j], name, j, methods, x_observed[j], x_simulated)
        for ax in panels[f:]:
            ax.set_axis_off()
        handles = [Line2D([], [], color=METHOD_COLORS.get(m, "0.4"), lw=1.5,
                          label=method_label(m)) for m in methods]
        handles.append(Line2D([], [], color=OBSERVED_COLOR, lw=1.2, ls="--", label="recording"))
        top.legend(handles=handles, loc="outside right upper")
        top.suptitle(title)
    return fig


def _traces_panel(ax, t, observed, traces, method: str, window) -> None:
    color = METHOD_COLORS.get(method, "0.4")
    if window is not None:
        ax.axvspan(*window, color="0.93", lw=0, zorder=0)
    for trace in np.atleast_2d(traces):
        ax.plot(t, trace, color=color, lw=0.6, alpha=0.35, gid=f"trace:{method}")
    ax.plot(t, observed, color=OBSERVED_COLOR, lw=0.9, gid="trace:observed")
    ax.set_title(f"{method_label(method)}: {len(np.atleast_2d(traces))} draws", loc="left")
    ax.set_xlabel("Time (ms)")


def _feature_panel(ax, name: str, j: int, methods, observed: float, x_simulated) -> None:
    for i, method in enumerate(methods):
        values = np.asarray(x_simulated[method])[:, j]
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        q05, q25, q50, q75, q95 = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
        color = METHOD_COLORS.get(method, "0.4")
        ax.plot([i, i], [q05, q95], color=color, lw=1.2, solid_capstyle="butt",
                gid=f"interval:{method}:{name}")
        ax.plot([i, i], [q25, q75], color=color, lw=6, solid_capstyle="butt")
        ax.plot(i, q50, marker="o", ms=3, color="white", markeredgecolor=color, ls="")
    ax.axhline(observed, color=OBSERVED_COLOR, lw=1.2, ls="--", gid=f"observed:{name}")
    ax.set_xlim(-0.7, len(methods) - 0.3)
    ax.set_xticks([])
    ax.set_title(name)
