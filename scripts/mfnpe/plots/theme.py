"""The look of every figure, in one place: the seaborn theme, the colours and labels of
the methods, and :func:`save_figure`.

The theme is seaborn's ``ticks`` style and ``paper`` context at 8–9 pt, top and right
spines off, the Okabe–Ito palette. It is applied per figure, never globally: figure
functions run under :func:`themed` (rcParams are read when artists are created) and
:func:`save_figure` draws under it again (ticks are created lazily, at draw time), so
importing this module changes no global matplotlib or seaborn state beyond selecting the
Agg backend.
"""

from __future__ import annotations

import functools
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib import cycler
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

# --------------------------------------------------------------------------- colours, labels

# Okabe–Ito colour-blind-safe palette: the same method has the same colour everywhere.
METHOD_COLORS = {"npe": "#0072B2", "mf_npe": "#E69F00", "lf_npe": "#009E73",
                 "tsnpe": "#56B4E9", "mf_tsnpe": "#D55E00", "a_mf_tsnpe": "#CC79A7",
                 "lf_tsnpe": "#117733"}
METHOD_LABELS = {"npe": "NPE (HF only)", "mf_npe": "MF-NPE", "lf_npe": "LF-NPE (pretrained only)",
                 "tsnpe": "TSNPE (HF only)", "mf_tsnpe": "MF-TSNPE", "a_mf_tsnpe": "A-MF-TSNPE",
                 "lf_tsnpe": "LF-TSNPE (LF rounds only)"}
OTHER_COLORS = ["#555555", "#F0E442", "#999999"]  # keys that are no method (a reference)
PALETTE = list(METHOD_COLORS.values())
TRUE_COLOR = "#D62728"  # the true parameters
OBSERVED_COLOR = "black"  # a recording
RECORDING_STYLE = dict(color=OBSERVED_COLOR, lw=1.0, ls="-")
"""How a recording is drawn wherever it is (its trace, its feature values, their legend
entry): one style, so the legend shows what the panels draw."""
FIDELITY_COLORS = {"hf": "0.15", "lf": "#56B4E9"}
REFERENCE_COLOR = "0.3"  # expected values under calibration (dotted)
BAND_COLOR = "0.45"  # bands of what calibration allows
STAGE_COLORS = {"LF simulation": "#C6DBEF", "pretraining": "#9ECAE1", "HF simulation": "#FDD0A2",
                "training": "#C7E9C0", "fine-tuning": "#DADAEB"}
LABEL_BOX = dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8)  # in-axes notes


def method_label(key: str) -> str:
    """Display label: ``METHOD_LABELS[key]`` for a method key, else the key itself."""
    return METHOD_LABELS.get(key, key)


def method_color(key: str, default="0.4"):
    """``METHOD_COLORS[key]`` for a method key, else ``default``."""
    return METHOD_COLORS.get(key, default)


def colors_for(keys) -> dict[str, str]:
    """Method keys get ``METHOD_COLORS``; any other key the next colour of ``OTHER_COLORS``."""
    keys = list(keys)
    others = iter(OTHER_COLORS * (len(keys) // len(OTHER_COLORS) + 1))
    return {k: METHOD_COLORS[k] if k in METHOD_COLORS else next(others) for k in keys}


def shade(color, i: int, n: int):
    """Variant ``i`` of ``n`` of a colour: the last is the pure colour, earlier ones are mixed
    towards white (up to 55 %)."""
    if n <= 1:
        return to_rgb(color)
    w = 0.55 * (n - 1 - i) / (n - 1)
    return tuple((1 - w) * c + w for c in to_rgb(color))


# --------------------------------------------------------------------------- theme

STYLE = "ticks"
CONTEXT = "paper"
FONT_SIZES = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
              "legend.title_fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8}
OVERRIDES = {
    "axes.spines.top": False, "axes.spines.right": False, "axes.linewidth": 0.8,
    "lines.linewidth": 1.5, "legend.frameon": False, "hatch.linewidth": 0.6,
    "svg.hashsalt": "mfnpe",  # stable SVG ids: reruns give identical files
    "axes.prop_cycle": cycler(color=PALETTE),
}


def theme_rc() -> dict:
    """The rcParams of the theme: seaborn's ``STYLE`` and ``CONTEXT`` (as ``sns.set_theme``
    would set them, with ``FONT_SIZES``) plus ``OVERRIDES``."""
    return {**sns.axes_style(STYLE), **sns.plotting_context(CONTEXT, rc=FONT_SIZES), **OVERRIDES}


@contextmanager
def theme():
    """Context in which matplotlib and seaborn draw with the theme; restores rcParams."""
    with plt.rc_context(theme_rc()):
        yield


def themed(func):
    """Decorator: run a figure function under :func:`theme`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with theme():
            return func(*args, **kwargs)
    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, figsize=(4.8, 3.4), **kwargs):
    """A constrained-layout ``Figure`` (not registered with pyplot, so nothing leaks when a
    caller forgets to close it) and its axes, as ``Figure.subplots`` returns them."""
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kwargs)


# --------------------------------------------------------------------------- saving

PNG_DPI = 150


def save_figure(fig: Figure, png_path, svg_path) -> None:
    """Write ``fig`` as PNG (150 dpi, size = figsize * 150 px) and SVG, creating parent
    folders, then close it. Each file is written to a temporary file in its folder and
    moved into place with ``os.replace``, so a reader (or a killed job) never sees half a
    figure. Metadata dates are dropped so reruns give identical files."""
    with theme():
        _write_atomic(fig, Path(png_path), format="png", dpi=PNG_DPI,
                      metadata={"Software": None})
        _write_atomic(fig, Path(svg_path), format="svg", metadata={"Date": None})
    plt.close(fig)


def _write_atomic(fig: Figure, path: Path, **savefig_kws) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        fig.savefig(part, **savefig_kws)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
