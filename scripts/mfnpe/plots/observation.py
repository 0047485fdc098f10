"""Figures of observations: the posterior predictive check of one recording.

Posterior pairplots of observations reuse :func:`mfnpe.plots.evaluation.pairplot`; saving,
colours and theme are those of :mod:`mfnpe.plots.theme`. The feature-wise predictive
intervals are seaborn point estimates with percentile intervals (``sns.pointplot``,
``estimator="median"``, ``errorbar=("pi", 90)`` and ``("pi", 50)``) of the measured
values only: a draw whose feature holds a stand-in (``mfnpe.simulation.stand_ins``: a
silent trace's latency is the window's length) is left out and counted in the panel. The
traces are matplotlib under the theme, each draw as faint as their number asks
(:func:`draw_alpha`), the recording on top in :data:`~mfnpe.plots.theme.RECORDING_STYLE`,
as its feature values and its legend entry. Artists carry a ``gid`` (``"trace:observed"``,
``"trace:<method>"``, ``"interval:<method>:<feature>"`` (5–95%),
``"interval50:<method>:<feature>"`` (25–75%), ``"median:<method>:<feature>"``,
``"left_out:<method>:<feature>"`` (the share of stand-ins left out),
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

from mfnpe.plots.theme import LABEL_BOX, RECORDING_STYLE, method_color, method_label, theme
from mfnpe.simulation.stand_ins import spikes_measured, stand_ins

FEATURE_COLUMNS = 5
INTERVALS = ((90, "interval", 1.2), (50, "interval50", 6.0))  # (width %, gid, line width)
TRACE_INK = 2.0
"""The draws of a trace panel together carry about this many opaque lines' ink: each is
drawn with alpha ``TRACE_INK / k`` (:func:`draw_alpha`), so where all k overlap the ink
saturates and where they part the density shows."""
DRAW_ALPHA = (0.02, 0.5)
"""Bounds of a draw's alpha: visible among many, never opaque among few."""
RECORDING_ZORDER = 4
"""The recording's trace above the draws and the MAP trace (2), below the notes (5)."""


def draw_alpha(k: int) -> float:
    """The alpha of each of ``k`` overlaid draws: ``TRACE_INK / k`` within
    :data:`DRAW_ALPHA`."""
    return float(np.clip(TRACE_INK / max(k, 1), *DRAW_ALPHA))


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
    the valid simulations' features ``x_simulated[method]`` (n, f), but for the draws
    whose value is a stand-in (too few spikes: ``mfnpe.simulation.stand_ins``), whose
    share is written at the method's place; the observed value ``x_observed`` (f,) as a
    line in the recording's style.

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
        left_out = {m: stand_ins(np.reshape(x_simulated[m], (-1, f)), feature_names)
                    for m in methods}
        for j, name in enumerate(feature_names):
            if tolerances is not None:
                panels[j].axhspan(*tolerances[j], color="0.9", lw=0, zorder=0,
                                  gid=f"tolerance:{name}")
            _feature_panel(panels[j], name, j, methods, x_observed[j], x_simulated,
                           left_out)
        for ax in panels[f:]:
            ax.set_axis_off()
        handles = [Line2D([], [], color=method_color(m), lw=1.5, label=method_label(m))
                   for m in methods]
        handles.append(Line2D([], [], **RECORDING_STYLE, label="recording"))
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
    traces = np.atleast_2d(traces)
    alpha = draw_alpha(len(traces))
    for trace in traces:
        ax.plot(t, trace, color=color, lw=0.6, alpha=alpha, gid=f"trace:{method}")
    ax.plot(t, observed, **RECORDING_STYLE, zorder=RECORDING_ZORDER, gid="trace:observed")
    ax.set_title(f"{method_label(method)}: {len(np.atleast_2d(traces))} draws", loc="left")
    ax.set_xlabel("Time (ms)")


def _feature_panel(ax, name: str, j: int, methods, observed: float, x_simulated,
                   left_out) -> None:
    """Per method at x = its index: median (dot) and 5–95% / 25–75% percentile intervals of
    the finite simulated values of feature ``j`` that are no stand-in (``left_out[method]``
    (n, f) bool), the share of the left out written there; the observed value in the
    recording's style."""
    for i, method in enumerate(methods):
        values = np.asarray(x_simulated[method], float)[:, j]
        stand_in = left_out[method][:, j]
        color = method_color(method)
        if stand_in.any():
            _left_out_note(ax, i, stand_in.mean(), spikes_measured(name), color,
                           f"left_out:{method}:{name}")
        values = values[np.isfinite(values) & ~stand_in]
        if not len(values):
            continue
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
    ax.axhline(observed, **RECORDING_STYLE, gid=f"observed:{name}")
    ax.set_xlim(-0.7, len(methods) - 0.3)
    ax.set_xticks([])
    ax.set(xlabel="", ylabel="", title=name)


def left_out_text(share: float, needed: int) -> str:
    """The note of the draws left out of a feature's intervals: "25 % silent" (the
    feature needs one spike) or "25 % < 2 spikes"."""
    why = "silent" if needed == 1 else f"< {needed} spikes"
    return f"{100 * share:.0f} %\n{why}"


def _left_out_note(ax, i: int, share: float, needed: int, color, gid: str) -> None:
    """:func:`left_out_text` under method ``i``'s place (the x axis has no ticks), in its
    colour."""
    ax.text(i, -0.03, left_out_text(share, needed), transform=ax.get_xaxis_transform(),
            ha="center", va="top", fontsize=6, color=color, gid=gid)
