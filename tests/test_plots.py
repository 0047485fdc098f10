"""Figures: each function draws what its data say (lines, bands, limits, stacked totals,
intervals), under the theme of mfnpe.plots.theme, and save_figure writes a loadable PNG of
the expected pixel size plus an SVG, atomically."""

from types import SimpleNamespace

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.contour import ContourSet
from scipy import stats

from mfnpe.evaluation import metrics
from mfnpe.plots import evaluation as plots
from mfnpe.plots import theme
from mfnpe.plots.observation import TRACE_INK, draw_alpha, left_out_text, predictive_check
from mfnpe.prior import BoxPrior
from mfnpe.evaluation.metrics import mean_interval

BUDGETS = [50, 100, 500, 1000]
NAMES = ["gNa", "gK", "gL"]
LOW, HIGH = np.array([60.0, 15.0, 0.1]), np.array([180.0, 55.0, 0.5])
PRIOR = BoxPrior(tuple(NAMES), LOW, HIGH)


def check_saved(fig, tmp_path, name):
    """save_figure into nested folders; both files non-empty, PNG = figsize * 150 px."""
    w, h = fig.get_size_inches()
    png, svg = tmp_path / "png" / "deep" / f"{name}.png", tmp_path / "svg" / f"{name}.svg"
    plots.save_figure(fig, png, svg)
    assert png.stat().st_size > 0 and svg.stat().st_size > 0
    rows, cols = mpimg.imread(png).shape[:2]  # Agg truncates fractional pixels
    assert abs(rows - h * 150) < 1 and abs(cols - w * 150) < 1
    assert "<svg" in svg.read_text()[:2000]


def gid_artists(ax, prefix):
    return [a for a in ax.get_children() if str(a.get_gid()).startswith(prefix)]


def step_value(line, x):
    """Value at ``x`` of a steps-post line (seaborn's ECDF)."""
    xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    return ys[np.searchsorted(xs, x, side="right") - 1]


# --------------------------------------------------------------------------- theme, saving

def test_theme_is_applied_per_figure_not_globally(tmp_path):
    """Importing the plot modules and drawing a figure leave the global rcParams as they
    were; inside the figure the theme holds (no top/right spines, the theme's font sizes,
    seaborn's outward ticks)."""
    before = dict(matplotlib.rcParams)
    fig = plots.nltp_vs_budget(make_metrics())
    ax = fig.axes[0]
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert ax.xaxis.label.get_fontsize() == theme.FONT_SIZES["axes.labelsize"]
    assert ax.yaxis.get_major_ticks()[0].tick1line.get_marker() == matplotlib.lines.TICKLEFT
    check_saved(fig, tmp_path, "themed")
    assert dict(matplotlib.rcParams) == before
    rc = theme.theme_rc()
    assert rc["axes.spines.top"] is False and rc["xtick.direction"] == "out"  # seaborn "ticks"
    assert plots.save_figure is theme.save_figure and plots.METHOD_COLORS is theme.METHOD_COLORS


def test_save_figure_replaces_atomically(tmp_path):
    """Existing files are replaced; a failing write leaves the old file and no partial one."""
    png, svg = tmp_path / "f.png", tmp_path / "f.svg"
    png.write_bytes(b"old")
    svg.write_bytes(b"old")
    theme.save_figure(plots.cost(make_cost()), png, svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<svg" in svg.read_text()[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg"]

    fig = plots.cost(make_cost())
    real = fig.savefig

    def half_then_fail(path, **kwargs):
        real(path, **kwargs)
        if kwargs["format"] == "svg":
            raise OSError("disk full")

    fig.savefig = half_then_fail
    kept = svg.read_bytes()
    with pytest.raises(OSError, match="disk full"):
        theme.save_figure(fig, tmp_path / "g.png", svg)
    assert svg.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg", "g.png"]


# --------------------------------------------------------------------------- NLTP vs budget

def make_metrics(seeds=(0, 1, 2), n_lfs=(1000, 10000)):
    rng = np.random.default_rng(1)
    rows = []
    for seed in seeds:
        for n_hf in BUDGETS:
            rows.append(("npe", 0, n_hf, seed, "nltp", 5 - np.log10(n_hf) + rng.normal(0, .2)))
            for n_lf in n_lfs:
                value = 3 - np.log10(n_hf) + rng.normal(0, .2)
                rows.append(("mf_npe", n_lf, n_hf, seed, "nltp", value))
                rows.append(("mf_npe", n_lf, n_hf, seed, "c2st", 100 + rng.random()))  # ignored
        for n_lf in n_lfs:
            rows.append(("lf_npe", n_lf, 0, seed, "nltp", 4 + rng.normal(0, .2)))
    return pd.DataFrame(rows, columns=["method", "n_lf", "n_hf", "seed", "metric", "value"])


def test_nltp_vs_budget_lines_and_bands(tmp_path):
    metrics = make_metrics()
    nltp = metrics[metrics.metric == "nltp"]
    fig = plots.nltp_vs_budget(metrics)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == BUDGETS
    assert [t.get_text() for t in ax.get_xticklabels()] == ["50", "100", "500", "1k"]
    assert ax.get_ylabel() == "NLTP (nats, lower is better)" and ax.get_xlabel() == "HF simulations"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"NPE (HF only)", "MF-NPE, 1k LF", "MF-NPE, 10k LF",
                          "LF-NPE (pretrained only), 1k LF", "LF-NPE (pretrained only), 10k LF"}
    for label, method, n_lf in [("NPE (HF only)", "npe", 0), ("MF-NPE, 10k LF", "mf_npe", 10000)]:
        means = nltp[(nltp.method == method) & (nltp.n_lf == n_lf)].groupby("n_hf")["value"].mean()
        np.testing.assert_allclose(lines[label].get_xdata(), BUDGETS)
        np.testing.assert_allclose(lines[label].get_ydata(), means.loc[BUDGETS].to_numpy())
        # band at each budget spans the Student-t 95% interval over the 3 seeds
        verts = gid_artists(ax, f"band:{method}:{n_lf}")[0].get_paths()[0].vertices
        for n_hf in BUDGETS:
            values = nltp[(nltp.method == method) & (nltp.n_lf == n_lf) & (nltp.n_hf == n_hf)].value
            _, low, high = mean_interval(values.to_numpy())
            ys = verts[np.isclose(verts[:, 0], n_hf), 1]
            np.testing.assert_allclose([ys.min(), ys.max()], [low, high])
    lf = nltp[(nltp.method == "lf_npe") & (nltp.n_lf == 1000)].value
    flat = lines["LF-NPE (pretrained only), 1k LF"]
    assert flat.get_linestyle() == "--"
    np.testing.assert_allclose(flat.get_ydata(), [lf.mean(), lf.mean()])
    span = gid_artists(ax, "band:lf_npe:1000")[0]
    _, low, high = mean_interval(lf.to_numpy())
    np.testing.assert_allclose([span.get_y(), span.get_y() + span.get_height()], [low, high])
    # colour per method is the fixed one (largest n_lf gets the pure colour)
    assert to_rgb(lines["NPE (HF only)"].get_color()) == to_rgb(plots.METHOD_COLORS["npe"])
    assert to_rgb(lines["MF-NPE, 10k LF"].get_color()) == to_rgb(plots.METHOD_COLORS["mf_npe"])
    assert to_rgb(lines["MF-NPE, 1k LF"].get_color()) != to_rgb(plots.METHOD_COLORS["mf_npe"])
    check_saved(fig, tmp_path, "nltp")


def test_nltp_vs_budget_single_seed_has_no_band(tmp_path):
    metrics = make_metrics(seeds=(0,), n_lfs=(10000,))
    fig = plots.nltp_vs_budget(metrics)
    ax = fig.axes[0]
    assert sorted(ln.get_label() for ln in ax.get_lines()) == sorted(
        plots.METHOD_LABELS[method] for method in ("npe", "mf_npe", "lf_npe"))
    assert gid_artists(ax, "band") == [] and not ax.collections
    mf = metrics[(metrics.method == "mf_npe") & (metrics.metric == "nltp")].sort_values("n_hf")
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "MF-NPE")
    np.testing.assert_allclose(line.get_ydata(), mf.value)
    check_saved(fig, tmp_path, "nltp1")


def test_nltp_vs_budget_recordings_panel(tmp_path):
    """With the sequential table: a second panel of -log q(theta_true | x_o), the mean over
    recordings per seed, then over seeds; amortized budgets beyond the chains' are cut."""
    rng = np.random.default_rng(3)
    rows = [dict(recording=rec, method=method, n_hf=n_hf, seed=seed,
                 nltp_true=rng.normal(5, 1))
            for rec in ("a", "b", "c") for seed in (0, 1)
            for method, budgets in (("mf_tsnpe", (50, 100, 150)), ("mf_npe", (50, 100, 500)))
            for n_hf in budgets]
    rows.append(dict(recording="d", method="mf_npe", n_hf=50, seed=0, nltp_true=np.nan))
    table = pd.DataFrame(rows)
    fig = plots.nltp_vs_budget(make_metrics(), table)
    assert len(fig.axes) == 2
    right = fig.axes[1]
    line = gid_artists(right, "line:recordings:mf_tsnpe")[0]
    expected = (table[table.method == "mf_tsnpe"].groupby(["n_hf", "seed"])["nltp_true"].mean()
                .groupby("n_hf").mean())
    np.testing.assert_allclose(line.get_xdata(), [50, 100, 150])
    np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    amortized = gid_artists(right, "line:recordings:mf_npe")[0]
    np.testing.assert_allclose(amortized.get_xdata(), [50, 100])  # 500 is beyond the chains
    assert "mean of 3" in right.get_title(loc="left")  # recording d has no known theta
    check_saved(fig, tmp_path, "nltp_recordings")


def test_nltp_vs_budget_needs_nltp_rows():
    metrics = make_metrics()
    with pytest.raises(ValueError, match="nltp"):
        plots.nltp_vs_budget(metrics[metrics.metric != "nltp"])


# --------------------------------------------------------------------------- pair plot

def test_pairplot_limits_truth_and_legend(tmp_path):
    rng = np.random.default_rng(0)
    theta = np.array([120.3, 36.1, 0.3])
    scale = (HIGH - LOW) / 20
    samples = {"npe": theta + rng.normal(size=(3000, 3)) * 2 * scale,
               "mf_npe": theta + rng.normal(size=(3000, 3)) * scale,
               "reference": theta + rng.normal(size=(500, 3)) * scale}
    fig = plots.pairplot(samples, theta, PRIOR, title="x_o #3")
    colors = {"npe": plots.METHOD_COLORS["npe"], "mf_npe": plots.METHOD_COLORS["mf_npe"],
              "reference": theme.OTHER_COLORS[0]}
    axes = np.array(fig.axes).reshape(3, 3)
    for i in range(3):
        for j in range(3):
            ax = axes[i, j]
            if j > i:
                assert not ax.axison
                continue
            assert ax.get_xlim() == pytest.approx((LOW[j], HIGH[j]))
            if i != j:
                assert ax.get_ylim() == pytest.approx((LOW[i], HIGH[i]))
                star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
                assert len(star) == 1
                assert (star[0].get_xdata()[0], star[0].get_ydata()[0]) == (theta[j], theta[i])
                for key, s in samples.items():
                    (draws,) = gid_artists(ax, f"draws:{key}")  # at most 600 draws shown
                    assert len(draws.get_offsets()) == min(len(s), 600)
                    assert to_rgb(draws.get_facecolor()[0][:3]) == to_rgb(colors[key])
                    # 95% and 68% HPD contours of the KDE: they enclose about that share of
                    # the draws (a little more: the kernel widens the density by ~7% here)
                    (hpd,) = gid_artists(ax, f"hpd:{key}")
                    assert isinstance(hpd, ContourSet) and len(hpd.levels) == 2
                    outer, inner = hpd.get_paths()  # increasing density: 95% first
                    points = s[:, [j, i]]
                    assert 0.94 <= outer.contains_points(points).mean() <= 0.985
                    assert 0.66 <= inner.contains_points(points).mean() <= 0.76
            else:  # true value as a vertical line on the diagonal, one histogram per method
                assert any(np.allclose(ln.get_xdata(), theta[j]) for ln in ax.get_lines())
                for key, s in samples.items():
                    (hist,) = gid_artists(ax, f"hist:{key}")
                    density, edges = np.histogram(s[:, j], bins=30, range=(LOW[j], HIGH[j]),
                                                  density=True)
                    np.testing.assert_allclose(hist.get_xdata(), edges)
                    np.testing.assert_allclose(hist.get_ydata(), np.r_[density, density[-1]])
                    assert hist.get_drawstyle() == "steps-post"
                    assert to_rgb(hist.get_color()) == to_rgb(colors[key])
    assert [axes[2, j].get_xlabel() for j in range(3)] == NAMES
    assert [axes[i, 0].get_ylabel() for i in (1, 2)] == NAMES[1:]
    assert {ax.get_xlabel() for ax in axes[:2].ravel()} | {axes[0, 0].get_ylabel()} == {""}
    legend = [t.get_text() for t in axes[0, 2].get_legend().get_texts()]
    assert legend[:3] == ["NPE (HF only)", "MF-NPE", "reference"]
    assert fig.get_suptitle() == "x_o #3"
    check_saved(fig, tmp_path, "pair")


def test_pairplot_puts_log_scale_parameters_on_log_axes(tmp_path):
    """A log-uniform parameter (the prior's scale "log") is on a log axis in its column
    and its row, its histogram bins are log-spaced over the prior box and its contours
    are those of the density of log theta; the linear parameter stays linear."""
    prior = BoxPrior(("gNa", "area"), [60.0, 1000.0], [180.0, 50000.0], ("linear", "log"))
    rng = np.random.default_rng(5)
    draws = np.column_stack([rng.normal(120, 10, 3000), np.exp(rng.normal(np.log(7000), 0.3,
                                                                        3000))])
    theta = np.array([118.0, 6800.0])
    fig = plots.pairplot({"npe": draws}, theta, prior, title="log area")
    axes = np.array(fig.axes).reshape(2, 2)
    assert [axes[0, 0].get_xscale(), axes[1, 1].get_xscale()] == ["linear", "log"]
    assert (axes[1, 0].get_xscale(), axes[1, 0].get_yscale()) == ("linear", "log")
    assert axes[1, 0].get_ylim() == pytest.approx((1000.0, 50000.0))
    assert axes[1, 1].get_xlim() == pytest.approx((1000.0, 50000.0))
    (hist,) = gid_artists(axes[1, 1], "hist:npe")
    edges = np.logspace(3, np.log10(50000), 31)
    np.testing.assert_allclose(hist.get_xdata(), edges)
    density, _ = np.histogram(np.log10(draws[:, 1]), bins=np.log10(edges), density=True)
    np.testing.assert_allclose(hist.get_ydata(), np.r_[density, density[-1]])
    (hpd,) = gid_artists(axes[1, 0], "hpd:npe")
    outer, inner = hpd.get_paths()  # in theta units: they hold the share of the draws
    assert 0.94 <= outer.contains_points(draws).mean() <= 0.985
    assert 0.66 <= inner.contains_points(draws).mean() <= 0.76
    star = [ln for ln in axes[1, 0].get_lines() if ln.get_marker() == "*"]
    assert (star[0].get_xdata()[0], star[0].get_ydata()[0]) == (118.0, 6800.0)
    check_saved(fig, tmp_path, "pair_log")


def test_pairplot_without_truth_and_with_few_draws():
    """No true theta: no star, no line; fewer than 20 draws: draws but no contours."""
    rng = np.random.default_rng(1)
    fig = plots.pairplot({"npe": rng.uniform(LOW, HIGH, size=(10, 3))}, None, PRIOR, title="t")
    axes = np.array(fig.axes).reshape(3, 3)
    assert not [a for ax in fig.axes for a in gid_artists(ax, "truth")]
    assert gid_artists(axes[1, 0], "draws:npe") and not gid_artists(axes[1, 0], "hpd")
    legend = [t.get_text() for t in axes[0, 2].get_legend().get_texts()]
    assert legend == ["NPE (HF only)"]


def test_pairplot_rejects_wrong_dimension():
    with pytest.raises(ValueError, match="samples"):
        plots.pairplot({"npe": np.zeros((10, 2))}, None, PRIOR, "t")


# --------------------------------------------------------------------------- traces

def test_traces_rows_titles_and_data(tmp_path):
    t_lf, t_hf = np.arange(0, 50, 0.05), np.arange(0, 50, 0.01)
    thetas = np.array([[120.3, 36.1, 0.3], [80.0, 20.55, 0.12], [150.0, 50.0, 0.0051]])
    v_lf = -65 + 80 * np.sin(t_lf[None] / (2 + np.arange(3)[:, None])) ** 20
    v_hf = -65 + 80 * np.sin(t_hf[None] / (2 + np.arange(3)[:, None])) ** 20 + 0.5
    fig = plots.traces(t_lf, v_lf, t_hf, v_hf, thetas, NAMES)
    assert len(fig.axes) == 3
    assert [ax.get_title(loc="left") for ax in fig.axes] == [
        "gNa=120.3, gK=36.1, gL=0.30", "gNa=80.0, gK=20.6, gL=0.12",
        "gNa=150.0, gK=50.0, gL=0.0051"]
    for r, ax in enumerate(fig.axes):
        (lf,), (hf,) = gid_artists(ax, "trace:lf"), gid_artists(ax, "trace:hf")
        np.testing.assert_array_equal(lf.get_xdata(), t_lf)
        np.testing.assert_array_equal(lf.get_ydata(), v_lf[r])
        np.testing.assert_array_equal(hf.get_ydata(), v_hf[r])
        assert ax.get_ylabel() == "V (mV)"
    assert fig.axes[-1].get_xlabel() == "Time (ms)"
    check_saved(fig, tmp_path, "traces")
    with pytest.raises(ValueError, match="traces"):
        plots.traces(t_lf, v_lf[:2], t_hf, v_hf, thetas, NAMES)


# --------------------------------------------------------------------------- cost

STAGE_SECONDS = {"npe": {"HF simulation": 2.0, "training": 0.05},  # per HF simulation
                 "mf_npe": {"HF simulation": 2.0, "fine-tuning": 0.02}}


def make_cost(seed_scale=(1.0,)):
    rows = []
    for s, scale in enumerate(seed_scale):
        for n_hf in [100, 1000, 10000]:
            for method, per in STAGE_SECONDS.items():
                rows += [(method, n_hf, stage, scale * sec * n_hf, s) for stage, sec in per.items()]
            rows += [("mf_npe", n_hf, "LF simulation", 900.0 * scale, s),
                     ("mf_npe", n_hf, "pretraining", 300.0 * scale, s)]
        rows.append(("lf_npe", 0, "pretraining", 1e6, s))  # not drawn
    return pd.DataFrame(rows, columns=["method", "n_hf", "stage", "seconds", "seed"])


def bar_stacks(ax):
    stacks = {}
    for bar in gid_artists(ax, "bar:"):
        _, method, n_hf, stage = bar.get_gid().split(":")
        part = (bar.get_y(), bar.get_height(), stage, bar)
        stacks.setdefault((method, int(n_hf)), []).append(part)
    return stacks


def test_cost_stacks_sum_to_totals(tmp_path):
    df = make_cost().drop(columns="seed")
    fig = plots.cost(df)
    ax = fig.axes[0]
    stacks = bar_stacks(ax)
    totals = df[df.method != "lf_npe"].groupby(["method", "n_hf"])["seconds"].sum()
    assert set(stacks) == set(totals.index)
    for key, parts in stacks.items():
        parts.sort(key=lambda p: p[0])
        tops = np.cumsum([h for _, h, _, _ in parts])
        np.testing.assert_allclose([y for y, _, _, _ in parts], np.r_[0, tops[:-1]])  # contiguous
        assert tops[-1] == pytest.approx(totals[key])
        for _, _, stage, bar in parts:  # shared stages are hatched, outline = method colour
            assert bool(bar.get_hatch()) == (stage in plots.SHARED_STAGES)
            assert to_rgb(bar.get_edgecolor()) == to_rgb(plots.METHOD_COLORS[key[0]])
    # npe and mf_npe side by side at each budget, categorical x
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "1k", "10k"]
    x = {k: p[0][3].get_x() for k, p in stacks.items()}
    assert all(x[("npe", b)] < x[("mf_npe", b)] for b in [100, 1000, 10000])
    assert ax.get_ylabel() == "CPU time (s)"
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    legend += fig.legends[0].get_title().get_text()
    assert "paid once" in legend and "NPE (HF only)" in legend and "MF-NPE" in legend
    check_saved(fig, tmp_path, "cost")


def test_cost_averages_over_seeds():
    fig = plots.cost(make_cost(seed_scale=(1.0, 3.0)))
    parts = bar_stacks(fig.axes[0])[("mf_npe", 100)]
    heights = {stage: h for _, h, stage, _ in parts}
    assert heights["LF simulation"] == pytest.approx(1800.0)  # mean of 900 and 2700
    assert heights["fine-tuning"] == pytest.approx(4.0)


# --------------------------------------------------------------------------- calibration

def calibration_inputs(m=200, S=99):
    """Uniform ranks and coverage for npe; piled-up ranks and overconfident (U-shaped)
    coverage for mf_npe."""
    rng = np.random.default_rng(2)
    return {"npe": SimpleNamespace(ranks=rng.integers(0, S + 1, size=(m, 3)),
                                   tarp_coverage=rng.integers(0, S + 1, m) / S, n_samples=S),
            "mf_npe": SimpleNamespace(ranks=np.minimum(rng.integers(0, S + 1, size=(m, 3)), 60),
                                      tarp_coverage=np.round(S * rng.beta(0.3, 0.3, m)) / S,
                                      n_samples=S)}


def test_calibration_histograms_bands_and_ecp(tmp_path):
    evaluations = calibration_inputs()
    m, S = 200, 99
    fig = plots.calibration(evaluations, NAMES, title="100 HF simulations")
    axes = np.array(fig.axes).reshape(2, 4)
    lo, hi = stats.binom.ppf([0.005, 0.995], m, 0.1)  # 10 bins of 10 ranks each
    for r, ev in enumerate(evaluations.values()):
        for c in range(3):
            ax = axes[r, c]
            counts = [p.get_height() for p in gid_artists(ax, "sbc:hist")]
            expected, _ = np.histogram(ev.ranks[:, c], bins=np.arange(-0.5, S + 1, 10))
            np.testing.assert_array_equal(counts, expected)
            (band,) = gid_artists(ax, "sbc:band")
            np.testing.assert_allclose(np.unique(band.get_paths()[0].vertices[:, 1]), [lo, hi])
        ax = axes[r, 3]
        (ecp,) = gid_artists(ax, "tarp:ecp")  # the empirical CDF of the coverage values
        alpha, expected = metrics.tarp_curve(ev.tarp_coverage)
        assert ecp.get_drawstyle() == "steps-post"
        np.testing.assert_allclose(step_value(ecp, alpha), expected)
        np.testing.assert_allclose(np.sort(ev.tarp_coverage), ecp.get_xdata()[1:])
        atc = metrics.tarp_atc(alpha, expected)
        _, p = metrics.tarp_ks(ev.tarp_coverage, S)
        assert ax.texts[0].get_text() == f"ATC = {atc:+.3f}\np = {p:.2g}"
        assert ax.get_xlim() == ax.get_ylim() == (0, 1)
        assert len(gid_artists(ax, "tarp:band")) == 1
    assert [ax.get_title() for ax in axes[0]] == [*NAMES, "TARP"]
    assert [ax.get_xlabel() for ax in axes[1]] == ["rank"] * 3 + [r"credibility level $\alpha$"]
    assert {ax.get_xlabel() for ax in axes[0]} == {""}
    assert [ax.get_ylabel() for ax in axes[0, 1:3]] == ["", ""]
    assert axes[1, 0].get_ylabel().startswith("MF-NPE")
    assert max(p.get_height() for p in gid_artists(axes[1, 0], "sbc:hist")) > hi  # pile-up
    assert metrics.tarp_atc(*metrics.tarp_curve(evaluations["mf_npe"].tarp_coverage)) < 0
    assert fig.get_suptitle() == "100 HF simulations"
    check_saved(fig, tmp_path, "calibration")


def test_rank_bins_cover_each_rank_once():
    edges, p = plots._rank_bins(100, 200, None)  # 101 possible ranks (prime): unequal bins
    assert edges[0] == -0.5 and edges[-1] == 100.5 and p.sum() == pytest.approx(1.0)
    counts, _ = np.histogram(np.arange(101), bins=edges)
    np.testing.assert_allclose(counts / 101, p)


def test_calibration_rejects_out_of_range_ranks():
    bad = SimpleNamespace(ranks=np.full((20, 3), 11), tarp_coverage=np.full(20, 0.5), n_samples=10)
    with pytest.raises(ValueError, match="outside"):
        plots.calibration({"npe": bad}, NAMES)


# --------------------------------------------------------------------------- predictive check

FEATURES = ["spikes", "rest", "latency"]


def test_predictive_check_intervals_medians_and_traces(tmp_path):
    """Per feature and method: the 5-95% and 25-75% intervals and the median of the finite
    simulated values at the method's position; the recording's value as a solid line;
    traces."""
    rng = np.random.default_rng(4)
    t = np.arange(200) * 0.1
    observed = -65 + rng.normal(size=200)
    x_sim = {"npe": rng.normal([5, -65, 3], [2, 1, 0.5], size=(80, 3)),
             "mf_npe": rng.normal([4, -64, 2], [1, 0.5, 0.2], size=(50, 3))}
    x_sim["mf_npe"][:7, 2] = np.nan  # latency undefined without a spike: left out
    traces_ = {"npe": -65 + rng.normal(size=(3, 200)), "mf_npe": -65 + rng.normal(size=(2, 200))}
    x_obs = np.array([4.0, -64.5, 2.5])
    fig = predictive_check(t, observed, traces_, x_obs, x_sim, FEATURES, "rec A",
                           window=(5.0, 15.0))
    top = [ax for ax in fig.axes if gid_artists(ax, "trace:")]
    assert [len(gid_artists(ax, "trace:npe")) for ax in top] == [3, 0]
    assert [len(gid_artists(ax, "trace:mf_npe")) for ax in top] == [0, 2]
    assert all(len(gid_artists(ax, "trace:observed")) == 1 for ax in top)
    np.testing.assert_array_equal(gid_artists(top[0], "trace:observed")[0].get_ydata(), observed)
    assert top[0].get_title(loc="left") == "NPE (HF only): 3 draws"
    for j, name in enumerate(FEATURES):
        (ax,) = [ax for ax in fig.axes if ax.get_title() == name]
        (line,) = gid_artists(ax, f"observed:{name}")
        assert line.get_linestyle() == "-" and list(line.get_ydata()) == [x_obs[j]] * 2
        for i, method in enumerate(("npe", "mf_npe")):
            values = x_sim[method][:, j]
            q05, q25, q50, q75, q95 = np.quantile(values[np.isfinite(values)],
                                                  [0.05, 0.25, 0.5, 0.75, 0.95])
            color = to_rgb(plots.METHOD_COLORS[method])
            for gid, (lo, hi) in ((f"interval:{method}:{name}", (q05, q95)),
                                  (f"interval50:{method}:{name}", (q25, q75))):
                (bar,) = gid_artists(ax, gid)
                np.testing.assert_allclose(bar.get_xdata(), [i, i])
                np.testing.assert_allclose(bar.get_ydata(), [lo, hi])
                assert to_rgb(bar.get_color()) == color
            thin, thick = (gid_artists(ax, f"{g}:{method}:{name}")[0].get_linewidth()
                           for g in ("interval", "interval50"))
            assert thick > 2 * thin
            (median,) = gid_artists(ax, f"median:{method}:{name}")
            assert median.get_marker() == "o"
            np.testing.assert_allclose([median.get_xdata()[0], median.get_ydata()[0]], [i, q50])
    assert fig.axes[0].get_ylabel() == "V (mV)"
    legend = [t.get_text() for t in fig.subfigs[0].legends[0].get_texts()]
    assert legend == ["NPE (HF only)", "MF-NPE", "recording"]
    check_saved(fig, tmp_path, "ppc")


def test_predictive_check_rejects_wrong_shapes():
    t, trace = np.arange(10.0), np.zeros(10)
    with pytest.raises(ValueError, match="x_observed"):
        predictive_check(t, trace, {"npe": trace[None]}, np.zeros(2), {"npe": np.zeros((5, 3))},
                         FEATURES, "t")
    with pytest.raises(ValueError, match="x_simulated"):
        predictive_check(t, trace, {"npe": trace[None]}, np.zeros(3), {"npe": np.zeros((5, 2))},
                         FEATURES, "t")


def test_predictive_check_draws_fade_with_their_number_under_the_recording():
    """Each draw's alpha is TRACE_INK / k (bounded): 40 draws are fainter than 3, and
    together carry TRACE_INK lines' ink; the recording is drawn above the draws and the
    MAP trace, solid, and the legend's recording entry has the style of the recording's
    trace and of its feature lines."""
    rng = np.random.default_rng(6)
    t = np.arange(300) * 0.1
    traces_ = {"npe": -65 + rng.normal(size=(3, 300)), "mf_npe": -65 + rng.normal(size=(40, 300))}
    x_sim = {m: rng.normal(size=(10, 3)) for m in traces_}
    fig = predictive_check(t, -65 + rng.normal(size=300), traces_, np.zeros(3), x_sim,
                           FEATURES, "rec", map_traces={"mf_npe": traces_["mf_npe"][0]})
    top = [ax for ax in fig.axes if gid_artists(ax, "trace:")]
    few, many = ({a.get_alpha() for a in gid_artists(ax, f"trace:{m}")}
                 for ax, m in zip(top, traces_))
    assert few == {draw_alpha(3)} and many == {draw_alpha(40)}
    assert draw_alpha(40) < draw_alpha(3) and draw_alpha(40) * 40 == pytest.approx(TRACE_INK)
    for ax in top:
        (recording,) = gid_artists(ax, "trace:observed")
        others = [a for a in ax.get_lines() if a is not recording]
        assert others and recording.get_zorder() > max(a.get_zorder() for a in others)
        assert recording.get_linestyle() == "-" and recording.get_alpha() in (None, 1.0)
    assert gid_artists(top[1], "map:mf_npe")
    legend = fig.subfigs[0].legends[0]
    (handle,) = [h for h, text in zip(legend.legend_handles, legend.get_texts())
                 if text.get_text() == "recording"]
    drawn = [gid_artists(top[0], "trace:observed")[0]] + [
        a for ax in fig.axes for a in gid_artists(ax, "observed:")]
    assert len(drawn) == 1 + len(FEATURES)
    for line in drawn:
        assert (line.get_linestyle(), line.get_linewidth(), to_rgb(line.get_color())) == (
            handle.get_linestyle(), handle.get_linewidth(), to_rgb(handle.get_color()))


def test_predictive_check_leaves_stand_ins_out_of_the_intervals():
    """Silent draws (spike_count 0: latency and isi_mean at the window's 100 ms) and
    one-spike draws (isi_mean at 100 ms) are left out of those features' intervals and
    medians, and their share is written under the method; features measured on every
    draw keep every draw and get no note."""
    rng = np.random.default_rng(7)
    names = ["spike_count", "rest_mean", "isi_mean", "first_spike_latency"]
    n = 40
    x = np.column_stack([rng.integers(2, 9, n), rng.normal(-65, 1, n), rng.normal(12, 1, n),
                         rng.normal(4, 1, n)]).astype(float)
    x[:10, 0], x[:10, 2], x[:10, 3] = 0, 100.0, 100.0  # silent: a quarter
    x[10:14, 0], x[10:14, 2] = 1, 100.0  # one spike: isi_mean too is a stand-in
    t = np.arange(100) * 0.1
    fig = predictive_check(t, np.zeros(100), {"npe": np.zeros((2, 100))},
                           np.array([5, -65, 12, 4.0]), {"npe": x}, names, "rec")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title() in names}
    for name, measured, share, needed in (("isi_mean", slice(14, None), 14 / n, 2),
                                          ("first_spike_latency", slice(10, None), 10 / n, 1),
                                          ("rest_mean", slice(None), 0.0, 0)):
        ax, j = panels[name], names.index(name)
        (bar,) = gid_artists(ax, f"interval:npe:{name}")
        np.testing.assert_allclose(bar.get_ydata(), np.quantile(x[measured, j], [0.05, 0.95]))
        (median,) = gid_artists(ax, f"median:npe:{name}")
        assert median.get_ydata()[0] == pytest.approx(np.median(x[measured, j]))
        notes = gid_artists(ax, f"left_out:npe:{name}")
        if share:
            assert max(bar.get_ydata()) < 100.0
            (note,) = notes
            assert note.get_text() == left_out_text(share, needed)
        else:
            assert notes == []
    assert left_out_text(0.25, 1) == "25 %\nsilent"
    assert left_out_text(0.35, 2) == "35 %\n< 2 spikes"
