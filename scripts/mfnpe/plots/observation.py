"""Figures of observations: the posterior predictive check of one recording.

Posterior pairplots of observations reuse :func:`mfnpe.plots.evaluation.pairplot`; saving,
colours and theme are those of :mod:`mfnpe.plots.theme`. The feature-wise predictive
intervals are seaborn point estimates with percentile intervals (``sns.pointplot``,
``estimator="median"``, ``errorbar=("pi", 90)`` and ``("pi", 50)``); the traces are
matplotlib under the theme. Artists carry a ``gid`` (``"trace:observed"``,
``"trace:<method>"``, ``"interval:<method>:<feature>"`` (5–95%),
``"interval50:<method>:<feature>"`` (25–75%), ``"median:<method>:<feature>"``,
``"observed:<feature>"``, and with the measure of fit (``mfnpe.observation.fit``)
``"fit:<method>:<panel>"`` (the sweep's fit note), ``"map:<method>"`` (a trace at the
MAP) and ``"tolerance:<feature>"`` (the band within tolerance of the recording)). A
recording flagged as atypical of the simulations (``mfnpe.observation.misspecification``)
gets a note under the title of its figures (:func:`with_note`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mfnpe.plots.theme import LABEL_BOX, OBSERVED_COLOR, method_color, method_label, theme

FEATURE_COLUMNS = 5
INTERVALS = ((90, "interval", 1.2), (50, "interval50", 6.0))  # (width %, gid, line width)


def with_note(title: str, note: str) -> str:
    """``title`` with ``note`` (e.g. "x_o atypical of the simulations (p = 0.005)") on a
    second line; ``title`` alone when ``note`` is empty."""
    return f"{title}\n{note}" if note else title


TRACE_PANEL_WIDTH = 3.6
"""Inches of each model's trace panel at least: its title and fit note fit beside the
others' when four or more models are checked."""


def predictive_check(t: np.ndarray, observed: np.ndarray, traces: Mapping[str, np.ndarray],
                     x_observed: np.ndarray, x_simulated: Mapping[str, np.ndarray],
                     feature_names: Sequence[str], title: str,
                     window: tuple[float, float] | None = None,
                     sweeps: Sequence[tuple[str, int, tuple[float, float]]] | None = None,
                     notes: Mapping[str, Sequence[str]] | None = None,
                     map_traces: Mapping[str, np.ndarray] | None = None,
                     tolerances: Sequence[tuple[float, float]] | None = None,
                     ) -> Figure:
    """Posterior predictive check of one recording.

    Top, one panel per method: simulated traces ``traces[method]`` (k, T') [mV] at
    posterior draws over the recorded trace ``observed`` (T',), times ``t`` (T',) [ms],
    the stimulus ``window`` (t_on, t_off) [ms] shaded. With ``sweeps`` [(label, samples,
    window)] the traces are those sweeps joined in time: one row of panels per sweep, each
    its ``samples`` of T' in sweep time, its ``window`` shaded. Bottom, one panel per
    feature: the 5–95% (thin) and 25–75% (thick) predictive intervals and the median of
    the valid simulations' features ``x_simulated[method]`` (n, f), and the observed value
    ``x_observed`` (f,) as a dashed line.

    The measure of fit, all optional: ``notes[method]`` one text per sweep, in a box in
    its panel; ``map_traces[method]`` (T',) one simulation at the MAP, drawn solid; and
    ``tolerances`` [(low, high)] per feature, shaded behind the feature's panel.
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
    if sweeps is None:
        sweeps = [("", len(t), window)]
    if sum(n for _, n, _ in sweeps) != len(t):
        raise ValueError(f"the sweeps' samples {[n for _, n, _ in sweeps]} do not add up to "
                         f"the {len(t)} of the traces")
    height = 2.4 * len(sweeps)
    with theme():
        width = max(1.5 * columns, TRACE_PANEL_WIDTH * len(methods))  # titles and notes fit
        fig = Figure(figsize=(width + 0.9, 0.2 + height + 1.5 * rows),
                     layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[height, 1.5 * rows])
        grid = top.subplots(len(sweeps), len(methods), sharey=True, squeeze=False)
        start = 0
        for row, (axes, (label, n, shaded)) in enumerate(zip(grid, sweeps)):
            part = slice(start, start + n)
            for ax, method in zip(axes, methods):
                _traces_panel(ax, t[part] - t[start], observed[part],
                              np.atleast_2d(traces[method])[:, part], method, shaded)
                if map_traces and method in map_traces:
                    ax.plot(t[part] - t[start], np.asarray(map_traces[method])[part],
                            color=method_color(method), lw=1.0, gid=f"map:{method}")
                if notes and method in notes:
                    ax.text(0.99, 0.97, notes[method][row], transform=ax.transAxes,
                            ha="right", va="top", fontsize="x-small", bbox=LABEL_BOX,
                            zorder=5, gid=f"fit:{method}:{label or 'trace'}")
                if label:
                    ax.set_title(f"{label}, {ax.get_title(loc='left')}", loc="left")
            axes[0].set_ylabel("V (mV)")
            start += n
        panels = bottom.subplots(rows, columns, squeeze=False).ravel()
        for j, name in enumerate(feature_names):
            if tolerances is not None:
                panels[j].axhspan(*tolerances[j], color="0.9", lw=0, zorder=0,
                                  gid=f"tolerance:{name}")
            _feature_panel(panels[j], name, j, methods, x_observed[j], x_simulated)
        for ax in panels[f:]:
            ax.set_axis_off()
        handles = [Line2D([], [], color=method_color(m), lw=1.5, label=method_label(m))
                   for m in methods]
        handles.append(Line2D([], [], color=OBSERVED_COLOR, lw=1.2, ls="--", label="recording"))
        if map_traces:
            handles.append(Line2D([], [], color="0.4", lw=1.0, label="at the MAP"))
        if tolerances is not None:
            handles.append(Line2D([], [], color="0.9", lw=6, label="within tolerance"))
        top.legend(handles=handles, loc="outside right upper")
        top.suptitle(title)
    return fig


def _traces_panel(ax, t, observed, traces, method: str, window) -> None:
    color = method_color(method)
    if window is not None:
        ax.axvspan(*window, color="0.93", lw=0, zorder=0)
    for trace in np.atleast_2d(traces):
        ax.plot(t, trace, color=color, lw=0.6, alpha=0.35, gid=f"trace:{method}")
    ax.plot(t, observed, color=OBSERVED_COLOR, lw=0.9, gid="trace:observed")
    ax.set_title(f"{method_label(method)}: {len(np.atleast_2d(traces))} draws", loc="left")
    ax.set_xlabel("Time (ms)")


def _feature_panel(ax, name: str, j: int, methods, observed: float, x_simulated) -> None:
    """Per method at x = its index: median (dot) and 5–95% / 25–75% percentile intervals of
    the finite simulated values of feature ``j``; the observed value dashed."""
    for i, method in enumerate(methods):
        values = np.asarray(x_simulated[method], float)[:, j]
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        color = method_color(method)
        for width, gid, lw in INTERVALS:
            last = width == INTERVALS[-1][0]
            sns.pointplot(x=np.full(len(values), i), y=values, native_scale=True,
                          estimator="median", errorbar=("pi", width), color=color,
                          marker="o" if last else "none", markersize=3.5, markeredgewidth=1.0,
                          markerfacecolor="white", markeredgecolor=color, linestyle="none",
                          zorder=4, gid=f"median:{method}:{name}" if last else None,
                          err_kws=dict(linewidth=lw, solid_capstyle="butt", zorder=3,
                                       gid=f"{gid}:{method}:{name}"),
                          legend=False, ax=ax)
    ax.axhline(observed, color=OBSERVED_COLOR, lw=1.2, ls="--", gid=f"observed:{name}")
    ax.set_xlim(-0.7, len(methods) - 0.3)
    ax.set_xticks([])
    ax.set(xlabel="", ylabel="", title=name)
