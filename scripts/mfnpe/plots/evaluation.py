"""Publication figures of the evaluation: NLTP vs budget, posterior pair plots, LF/HF
voltage traces, CPU cost breakdown and calibration (SBC ranks, TARP coverage).

Seaborn draws the statistics: NLTP means and their Student-t intervals over seeds
(``sns.lineplot``), the marginal histograms, draws and HPD contours of the pair plots
(``sns.histplot``, ``sns.scatterplot``, ``sns.kdeplot``), the SBC rank histograms
(``sns.histplot``) and the TARP coverage curve (``sns.ecdfplot``: the TARP expected
coverage is the empirical CDF of the coverage values). The LF/HF traces and the stacked
cost bars (hatched shared stages, which seaborn's bars cannot draw) are matplotlib under
the same theme. Colours, labels, theme and :func:`save_figure` live in
:mod:`mfnpe.plots.theme`.

Every figure function returns a ``Figure`` and leaves saving to :func:`save_figure`.
Artists that tests or later code may want to find carry a ``gid`` (e.g. ``"band:npe:0"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator
from scipy import stats

from mfnpe.names import SEQUENTIAL_FIDELITY, SEQUENTIAL_METHODS
from mfnpe.evaluation.metrics import mean_interval, sbc_ks, tarp_atc, tarp_curve, tarp_ks
from mfnpe.prior import BoxPrior
from mfnpe.plots.theme import (
    BAND_COLOR,
    FIDELITY_COLORS,
    LABEL_BOX,
    METHOD_COLORS,
    METHOD_LABELS,
    REFERENCE_COLOR,
    STAGE_COLORS,
    TRUE_COLOR,
    colors_for,
    method_label,
    save_figure,
    shade,
    subplots,
    themed,
)

__all__ = ["METHOD_COLORS", "METHOD_LABELS", "SEQUENTIAL_METHODS", "SHARED_STAGES", "STAGE_ORDER",
           "calibration", "cost", "method_label", "nltp_vs_budget", "pairplot", "save_figure",
           "traces"]

STAGE_ORDER = ["LF simulation", "pretraining", "HF simulation", "training", "fine-tuning"]
SHARED_STAGES = ("LF simulation", "pretraining")  # paid once, reused by every HF budget
HPD_MASSES = (0.95, 0.68)  # pair-plot contours


def _fmt_count(n: float) -> str:
    """Compact count: 100 -> '100', 1500 -> '1.5k', 10000 -> '10k', 2000000 -> '2M'."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"


def _fmt_value(v: float) -> str:
    """Parameter value for titles: 120.3, 36.1, 0.30, 0.00512."""
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _new_artists(ax, kind: str, before: int) -> list:
    """The artists of ``ax.<kind>`` (lines, collections, patches) added after ``before``."""
    return list(getattr(ax, kind))[before:]


# --------------------------------------------------------------------------- NLTP vs budget

MARKERS = ["o", "s", "^", "D", "v", "P"]


def _student_t_95(values) -> tuple[float, float]:
    """The 95% Student-t interval of the mean of ``values`` (seaborn's errorbar callable; the
    one of the summary table, :func:`mfnpe.evaluation.metrics.mean_interval`)."""
    _, low, high = mean_interval(np.asarray(values, float))
    return low, high


@themed
def nltp_vs_budget(metrics: pd.DataFrame, recordings: pd.DataFrame | None = None) -> Figure:
    """NLTP [nats] vs number of HF simulations (log x) per method, mean over seeds with a 95%
    Student-t band. ``metrics``: long form, columns method, n_lf, n_hf, seed, metric, value;
    rows with metric == "nltp" are used. lf_npe (n_hf = 0) is a dashed horizontal line per
    n_lf; with several n_lf values there is one line per (method, n_lf).

    With ``recordings`` (the sequential summary: columns recording, method, n_hf, seed,
    nltp_true) a second panel shows -log q(theta_true | x_o) on the recordings with known
    theta, averaged over recordings, for the sequential and the amortized methods."""
    df = metrics[metrics["metric"] == "nltp"]
    if df.empty:
        raise ValueError("no 'nltp' rows in metrics")
    n_lfs = sorted(df.loc[df["method"].isin(["mf_npe", "lf_npe"]), "n_lf"].unique())
    known = None if recordings is None else recordings.dropna(subset=["nltp_true"])
    if known is not None and not known.empty:
        fig, (ax, right) = subplots(1, 2, figsize=(9.6, 3.4))
        _recordings_panel(right, known)
    else:
        fig, ax = subplots(figsize=(6.4, 3.4))
    ax.set_title("test set (prior draws)", loc="left")
    for method in ("npe", "mf_npe", "lf_npe"):
        sub = df[df["method"] == method]
        for n_lf, part in sub.groupby("n_lf", sort=True):
            i = n_lfs.index(n_lf) if method != "npe" else len(n_lfs) - 1
            label = method_label(method)
            if method != "npe" and len(n_lfs) > 1:
                label += f", {_fmt_count(n_lf)} LF"
            style = dict(color=shade(METHOD_COLORS[method], i, len(n_lfs)), label=label,
                         gid=f"line:{method}:{n_lf}")
            if method == "lf_npe":
                _draw_flat(ax, part["value"].dropna().to_numpy(), style)
            else:
                marker = "o" if method == "npe" else MARKERS[(i + 1) % len(MARKERS)]
                _draw_curve(ax, part, style, marker)
    budgets = sorted(df.loc[df["method"] != "lf_npe", "n_hf"].unique())
    _budget_axis(ax, budgets)
    ax.set_xlabel("HF simulations")
    ax.set_ylabel("NLTP (nats, lower is better)")
    fig.legend(loc="outside right upper")
    return fig


def _budget_axis(ax, budgets) -> None:
    """Log x axis with one labelled tick per budget."""
    ax.set_xscale("log")
    if len(budgets):
        ax.set_xticks(budgets, [_fmt_count(b) for b in budgets])
        ax.xaxis.set_minor_locator(NullLocator())


def _recordings_panel(ax, table: pd.DataFrame) -> None:
    """-log q(theta_true | x_o) vs HF budget per method: the mean over recordings per seed,
    then mean and 95% band over seeds (budgets of MF-NPE and NPE up to the chains' last)."""
    last = table.loc[table["method"].isin(SEQUENTIAL_METHODS), "n_hf"].max()
    table = table[table["n_hf"] > 0]  # a log axis of HF budgets
    table = table[table["n_hf"] <= last] if np.isfinite(last) else table
    per_seed = (table.groupby(["method", "n_hf", "seed"], as_index=False)["nltp_true"].mean()
                .rename(columns={"nltp_true": "value"}))
    with_hf = [m for m in SEQUENTIAL_METHODS if SEQUENTIAL_FIDELITY[m] == "hf"]
    for method in ("npe", "mf_npe", *with_hf):  # LF-TSNPE spends no HF simulation
        part = per_seed[per_seed["method"] == method]
        if part.empty:
            continue
        style = dict(color=METHOD_COLORS[method], label=None, gid=f"line:recordings:{method}")
        if method in SEQUENTIAL_METHODS:
            style["label"] = method_label(method)
        _draw_curve(ax, part, style, "o" if method in ("npe", "mf_npe") else "D")
    _budget_axis(ax, sorted(per_seed["n_hf"].unique()))
    ax.set_xlabel("HF simulations (sequential: all rounds so far)")
    ax.set_ylabel(r"$-\log q(\theta_{true} \mid x_o)$ (nats)")
    n = table["recording"].nunique()
    ax.set_title(f"recordings with known θ (mean of {n})", loc="left")


def _draw_curve(ax, part: pd.DataFrame, style: dict, marker: str) -> None:
    """``sns.lineplot`` of the mean ``value`` over seeds against ``n_hf``, with the 95%
    Student-t band of that mean where a budget has two or more seeds (no band, not even an
    empty one, when none has)."""
    part = part.dropna(subset=["value"])
    banded = part.groupby("n_hf")["value"].size().max() >= 2
    sns.lineplot(data=part, x="n_hf", y="value", ax=ax, estimator="mean",
                 errorbar=_student_t_95 if banded else None, err_style="band",
                 err_kws=dict(alpha=0.2, linewidth=0, gid=style["gid"].replace("line", "band")),
                 marker=marker, markersize=4, legend=False, **style)


def _draw_flat(ax, values: np.ndarray, style: dict) -> None:
    """Horizontal dashed line at the mean of ``values`` plus its 95% Student-t band when
    defined (a reference level, not a function of the budget: matplotlib)."""
    mean, low, high = mean_interval(values)
    ax.axhline(mean, ls="--", **style)
    if np.isfinite(low):
        ax.axhspan(low, high, color=style["color"], alpha=0.12, lw=0,
                   gid=style["gid"].replace("line", "band"))


# --------------------------------------------------------------------------- pair plot

@themed
def pairplot(samples: dict[str, np.ndarray], theta_true: np.ndarray | None, prior: BoxPrior,
             title: str, max_points: int = 600) -> Figure:
    """Corner plot of posterior draws. ``samples[label]``: (S, d) draws in parameter units,
    columns ``prior.names``; ``theta_true``: (d,) or None; ``prior``: its box
    ``low``/``high`` (d,) are the axis limits, and a parameter of log ``scale`` (log-uniform)
    is on a log axis in every panel, its histogram bins and density contours even in
    log10 theta. Lower triangle: light scatter (at most ``max_points`` per method,
    ``sns.scatterplot``) and the 68/95% highest-density contours of a Gaussian KDE over
    the prior box (``sns.kdeplot``); diagonal: 1-D density histograms (``sns.histplot``);
    true theta as a red star / vertical line."""
    names, low, high = list(prior.names), prior.low, prior.high
    log = [kind == "log" for kind in prior.scale]
    d = len(names)
    for key, s in samples.items():
        if np.ndim(s) != 2 or np.shape(s)[1] != d:
            raise ValueError(f"samples[{key!r}] must be (S, {d}), got {np.shape(s)}")
    colors = colors_for(samples)
    rng = np.random.default_rng(0)
    fig, axes = subplots(d, d, figsize=(1.9 * d + 0.6, 1.9 * d + 0.4), squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            _scale_axes(ax, log[j], log[i] and i != j)  # before seaborn: it bins, smooths
            box_x = _drawn_box(low[j], high[j], log[j])
            box_y = _drawn_box(low[i], high[i], log[i])
            for key, s in samples.items():
                s = np.asarray(s, float)
                if i == j:
                    sns.histplot(x=s[:, j], bins=30, binrange=box_x, stat="density",
                                 element="step", fill=False, color=colors[key], linewidth=1.3,
                                 ax=ax, gid=f"hist:{key}")
                else:
                    pick = s if len(s) <= max_points else s[rng.choice(len(s), max_points, False)]
                    sns.scatterplot(x=pick[:, j], y=pick[:, i], s=3, alpha=0.15,
                                    color=colors[key], linewidth=0, rasterized=True, ax=ax,
                                    legend=False, gid=f"draws:{key}")
                    _hpd_contours(ax, s[:, j], s[:, i], box_x, box_y, colors[key],
                                  f"hpd:{key}")
            _mark_truth(ax, theta_true, i, j)
            _corner_axes(ax, i, j, d, names, low, high)
    handles = [Line2D([], [], color=colors[k], lw=1.5, label=method_label(k)) for k in samples]
    if theta_true is not None:
        handles.append(Line2D([], [], color=TRUE_COLOR, marker="*", ls="", ms=9,
                              markeredgecolor="k", markeredgewidth=0.4, label=r"true $\theta$"))
    axes[0, -1].legend(handles=handles, loc="upper right")
    fig.suptitle(title)
    return fig


LOG_TICKS = (1.0, 3.0)
"""Labelled ticks of a log axis: 1 and 3 times each power of ten (0.01, 0.03, 0.1, ...;
1000, 3000, 10000, ...), in plain numbers; the other ticks unlabelled."""


def _scale_axes(ax, log_x: bool, log_y: bool) -> None:
    """Log x and/or y axis for a log-scale parameter, labelled at :data:`LOG_TICKS`. Set
    before seaborn draws: seaborn bins and smooths in the axis' coordinates (log10 theta
    on a log axis)."""
    for axis, set_scale, log in ((ax.xaxis, ax.set_xscale, log_x),
                                 (ax.yaxis, ax.set_yscale, log_y)):
        if log:
            set_scale("log")
            axis.set_major_locator(LogLocator(subs=LOG_TICKS))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.6g}"))
            axis.set_minor_formatter(NullFormatter())


def _drawn_box(low: float, high: float, log: bool) -> tuple[float, float]:
    """A prior bound pair in the coordinates seaborn bins and smooths in: log10 of the
    bounds on a log axis, the bounds themselves on a linear one."""
    return (float(np.log10(low)), float(np.log10(high))) if log else (float(low), float(high))


def _hpd_contours(ax, x, y, xlim, ylim, color, gid: str) -> None:
    """The 68% and 95% highest-density contours of a Gaussian KDE of (x, y) evaluated over
    the prior box ``xlim``, ``ylim`` (in the axes' coordinates: log10 on a log axis;
    ``sns.kdeplot`` levels are iso-proportions: the 1 - mass quantiles of the density).
    Skipped for fewer than 20 draws or a degenerate cloud."""
    if len(x) < 20 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return
    before = len(ax.collections)
    sns.kdeplot(x=x, y=y, levels=sorted(1 - m for m in HPD_MASSES), clip=(xlim, ylim),
                gridsize=150, color=color, linewidths=[0.8, 1.3], warn_singular=False, ax=ax)
    for artist in _new_artists(ax, "collections", before):
        artist.set_gid(gid)


def _mark_truth(ax, theta_true, i: int, j: int) -> None:
    """Red vertical line (diagonal) or red star (off-diagonal) at the true parameters."""
    if theta_true is None:
        return
    if i == j:
        ax.axvline(theta_true[j], color=TRUE_COLOR, lw=1.2, ls="-", gid="truth")
    else:
        ax.plot(theta_true[j], theta_true[i], marker="*", color=TRUE_COLOR, ms=10,
                markeredgecolor="k", markeredgewidth=0.4, ls="", zorder=5, gid="truth")


def _corner_axes(ax, i: int, j: int, d: int, names, low, high) -> None:
    """Prior-box limits and outer-edge-only tick labels / axis labels for panel (i, j)
    (seaborn's own axis labels are replaced)."""
    ax.set_xlim(low[j], high[j])
    ax.set_xlabel(names[j] if i == d - 1 else "")
    ax.set_ylabel(names[i] if j == 0 and i > 0 else "")
    if i == j:
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
    else:
        ax.set_ylim(low[i], high[i])
    if i != d - 1:
        ax.tick_params(which="both", labelbottom=False)
    if j > 0 and i != j:
        ax.tick_params(which="both", labelleft=False)


# --------------------------------------------------------------------------- traces

@themed
def traces(t_lf, v_lf, t_hf, v_hf, thetas, names, lf_label: str = "LF",
           hf_label: str = "HF") -> Figure:
    """LF and HF membrane voltage at the same parameters, overlaid, one row per theta.
    ``t_lf`` (T1,) ms, ``v_lf`` (k, T1) mV, ``t_hf`` (T2,) ms, ``v_hf`` (k, T2) mV,
    ``thetas`` (k, d) in parameter units, ``names`` d parameter names (row titles)."""
    v_lf, v_hf, thetas = np.atleast_2d(v_lf), np.atleast_2d(v_hf), np.atleast_2d(thetas)
    k = len(thetas)
    if len(v_lf) != k or len(v_hf) != k:
        raise ValueError(f"need {k} LF and HF traces, got {len(v_lf)} and {len(v_hf)}")
    fig, axes = subplots(k, 1, figsize=(6.4, 1.55 * k + 0.6), sharex=True, squeeze=False)
    for r, ax in enumerate(axes[:, 0]):
        ax.plot(t_hf, v_hf[r], color=FIDELITY_COLORS["hf"], lw=0.8, label=hf_label,
                gid="trace:hf")
        ax.plot(t_lf, v_lf[r], color=FIDELITY_COLORS["lf"], lw=1.2, alpha=0.9,
                label=lf_label, gid="trace:lf")
        ax.set_title(", ".join(f"{n}={_fmt_value(v)}" for n, v in zip(names, thetas[r])),
                     loc="left")
        ax.set_ylabel("V (mV)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper right", ncols=2)
    axes[-1, 0].set_xlabel("Time (ms)")
    return fig


# --------------------------------------------------------------------------- cost

def _stage_seconds(cost: pd.DataFrame) -> pd.Series:
    """Seconds per (method, n_hf, stage): duplicate rows summed, then averaged over ``seed``
    when that column exists."""
    keys = ["method", "n_hf", "stage"]
    seeded = "seed" in cost.columns
    s = cost.groupby(keys + (["seed"] if seeded else []), sort=False)["seconds"].sum()
    return s.groupby(level=keys, sort=False).mean() if seeded else s


@themed
def cost(cost: pd.DataFrame, methods=("npe", "mf_npe")) -> Figure:
    """Stacked CPU-time bars [s] per HF budget, one bar per method side by side.
    ``cost``: columns method, n_hf, stage, seconds (optionally seed). Stages are stacked in
    ``STAGE_ORDER``; shared stages (LF simulation, pretraining) are hatched and drawn in every
    budget so each bar is the honest total for that budget. Matplotlib bars under the theme:
    seaborn draws no stacked, hatched bars."""
    if (cost["seconds"] < 0).any():
        raise ValueError("negative seconds in cost table")
    secs = _stage_seconds(cost[cost["method"].isin(methods)])
    present = [m for m in methods if m in secs.index.get_level_values("method")]
    budgets = sorted(secs.index.get_level_values("n_hf").unique())
    seen = list(dict.fromkeys(secs.index.get_level_values("stage")))
    stages = [s for s in STAGE_ORDER if s in seen] + [s for s in seen if s not in STAGE_ORDER]
    fills = {s: STAGE_COLORS.get(s, f"0.{5 + i % 4}") for i, s in enumerate(stages)}
    width = 0.8 / max(len(present), 1)
    fig, ax = subplots(figsize=(1.0 * len(budgets) + 3.4, 3.4))
    for b, n_hf in enumerate(budgets):
        for m, method in enumerate(present):
            x = b + (m - (len(present) - 1) / 2) * width
            bottom = 0.0
            for stage in stages:
                h = secs.get((method, n_hf, stage), 0.0)
                if h > 0:
                    ax.bar(x, h, width * 0.92, bottom=bottom, color=fills[stage],
                           edgecolor=METHOD_COLORS[method], lw=1.3,
                           hatch="///" if stage in SHARED_STAGES else None,
                           gid=f"bar:{method}:{n_hf}:{stage}")
                    bottom += h
    ax.set_xticks(range(len(budgets)), [_fmt_count(b) for b in budgets])
    ax.set_xlabel("HF simulations (budget)")
    ax.set_ylabel("CPU time (s)")
    _cost_legend(fig, present, stages, fills)
    return fig


def _cost_legend(fig, methods, stages, fills) -> None:
    """Legend: method = bar outline colour; stage = fill; hatched = paid once, shared."""
    handles = [Patch(facecolor="white", edgecolor=METHOD_COLORS[m], lw=1.3,
                     label=method_label(m)) for m in methods]
    handles += [Patch(facecolor=fills[s], edgecolor="0.3", lw=0.6,
                      hatch="///" if s in SHARED_STAGES else None,
                      label=s + (" (paid once, shared)" if s in SHARED_STAGES else ""))
                for s in stages]
    title = "hatched: paid once, shared\nacross budgets (drawn in each)"
    fig.legend(handles=handles, loc="outside right upper", title=title,
               title_fontproperties={"size": 7.5})


# --------------------------------------------------------------------------- calibration

def _rank_bins(n_samples: int, m: int, n_bins: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges over ranks 0..S (half-integer, so each integer rank lies in one bin) and the
    probability of each bin under uniform ranks (exact, bins may hold unequal counts)."""
    n_values = n_samples + 1
    if n_bins is None:
        n_bins = int(np.clip(m // 20, 5, 20))
    n_bins = min(n_bins, n_values)
    cuts = np.round(np.linspace(0, n_values, n_bins + 1)).astype(int)
    return cuts - 0.5, np.diff(cuts) / n_values


@themed
def calibration(evaluations: Mapping[str, object], names, title: str = "",
                n_bins: int | None = None) -> Figure:
    """Calibration of each method (one row each): SBC rank histograms per parameter and,
    in the last column, the TARP expected coverage against the credibility level.

    ``evaluations[method]``: an object with ``ranks`` (m, d) int ranks in 0..n_samples of
    the true theta among ``n_samples`` posterior draws and ``tarp_coverage`` (m,) in
    [0, 1] (e.g. an ``Evaluation``); ``names``: the d parameter names. Grey bands: the 99%
    interval of each bin count under uniform ranks, and of the ECP curve under uniform
    coverage (KS); each panel is annotated with its KS p-value (TARP also with the ATC)."""
    keys, d = list(evaluations), len(names)
    colors = colors_for(keys)
    fig, axes = subplots(len(keys), d + 1, figsize=(1.8 * d + 2.6, 1.6 * len(keys) + 0.7),
                         squeeze=False)
    for r, key in enumerate(keys):
        ev = evaluations[key]
        ranks = np.asarray(ev.ranks)
        if ranks.ndim != 2 or ranks.shape[1] != d:
            raise ValueError(f"{key}: ranks must be (m, {d}), got {ranks.shape}")
        if ranks.min() < 0 or ranks.max() > ev.n_samples:
            raise ValueError(f"{key}: ranks outside 0..{ev.n_samples}")
        _, p = sbc_ks(ranks, ev.n_samples)
        for c in range(d):
            ax = axes[r, c]
            _sbc_histogram(ax, ranks[:, c], ev.n_samples, n_bins, colors[key])
            ax.text(0.97, 0.95, f"p = {p[c]:.2g}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=7, bbox=LABEL_BOX, zorder=5)
            if c > 0:
                ax.sharey(axes[r, 0])
                ax.tick_params(labelleft=False)
        axes[r, 0].set_ylabel(f"{method_label(key)}\ncount")
        _tarp_panel(axes[r, d], np.asarray(ev.tarp_coverage), ev.n_samples, colors[key])
    for r in range(len(keys)):
        for c in range(d + 1):
            axes[r, c].set_xlabel(("rank" if c < d else r"credibility level $\alpha$")
                                  if r == len(keys) - 1 else "")
    for c, name in enumerate([*names, "TARP"]):
        axes[0, c].set_title(name)
    if title:
        fig.suptitle(title)
    return fig


def _sbc_histogram(ax, ranks: np.ndarray, n_samples: int, n_bins: int | None, color) -> None:
    """``sns.histplot`` of (m,) ranks in 0..n_samples with the 99% binomial band of each bin
    count under uniform ranks and the expected count (dotted)."""
    edges, p = _rank_bins(n_samples, len(ranks), n_bins)
    lo, hi = stats.binom.ppf(0.005, len(ranks), p), stats.binom.ppf(0.995, len(ranks), p)
    sns.histplot(x=ranks, bins=edges, stat="count", color=color, alpha=0.75, linewidth=0.4,
                 ax=ax, gid="sbc:hist")
    ax.fill_between(edges, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post",
                    color=BAND_COLOR, alpha=0.25, lw=0, zorder=2, gid="sbc:band")
    ax.stairs(len(ranks) * p, edges, color=REFERENCE_COLOR, lw=0.8, ls=":", zorder=3,
              gid="sbc:expected")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel("")


def _tarp_panel(ax, coverage: np.ndarray, n_samples: int, color) -> None:
    """ECP curve of (m,) TARP coverage values against alpha (``sns.ecdfplot``: the ECP is
    the empirical CDF of the coverage), the diagonal, the 99% KS band around it, and the
    ATC and KS p-value (of the ECP on the ``tarp_curve`` grid, as in the tables)."""
    alpha, ecp = tarp_curve(coverage)
    half = stats.kstwo.ppf(0.99, len(coverage))
    ax.fill_between(alpha, np.clip(alpha - half, 0, 1), np.clip(alpha + half, 0, 1),
                    color=BAND_COLOR, alpha=0.25, lw=0, gid="tarp:band")
    ax.plot([0, 1], [0, 1], color=REFERENCE_COLOR, lw=0.8, ls=":")
    sns.ecdfplot(x=coverage, stat="proportion", color=color, ax=ax, gid="tarp:ecp")
    _, p = tarp_ks(coverage, n_samples)
    ax.text(0.03, 0.97, f"ATC = {tarp_atc(alpha, ecp):+.3f}\np = {p:.2g}", transform=ax.transAxes,
            ha="left", va="top", fontsize=7, bbox=LABEL_BOX, zorder=5)
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="expected coverage")
