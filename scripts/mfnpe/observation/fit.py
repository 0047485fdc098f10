"""The measure of fit of a recording's posterior (docs/recordings.md, "Measure of fit").

Per recording, model and sweep: of the HF simulations at posterior draws (the predictive
check, ``ppc.h5``), the fraction whose spike count is within tolerance of the recording's
(:data:`TOLERANCES`: ±20 %, at least ±1 spike), the fraction within tolerance on every
feature of the sweep, and the fractions that are silent, in depolarisation block or fire
before the stimulus; the same for a few HF simulations at the posterior's most probable
point (:data:`MAP_SIMULATIONS`). Every fraction is of all the simulations: a diverged one
(``invalid``) is within no tolerance and in no state.

What the features cannot tell (spikes before the stimulus, where firing stops) is measured
on every simulation's trace and on the recording's in the predictive-check job
(:mod:`mfnpe.observation.measures`, which needs the spike detector's numba; stored in
``ppc.h5``); the rules that classify them are here (:class:`TraceMeasures`), and the
figure and the table read the stored measures.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfnpe.names import SEQUENTIAL_METHODS
from mfnpe.stimulus.sweeps import SWEEP_SEPARATOR, is_recording, split_name
from mfnpe.stimulus.windows import epoch_windows


@dataclass(frozen=True)
class Tolerance:
    """A simulated feature value matches the recorded one when
    ``|simulated - recorded| <= max(absolute, relative * |recorded|)``.

    unit : the feature's unit (that of ``absolute``); relative is a fraction.
    reason : why this width (documented in docs/recordings.md).
    """

    unit: str
    absolute: float
    relative: float
    reason: str

    def half_width(self, recorded: float) -> float:
        """The largest allowed |simulated - recorded| for this recorded value."""
        return max(self.absolute, self.relative * abs(float(recorded)))

    def within(self, simulated: np.ndarray, recorded: float) -> np.ndarray:
        """Bool array: which ``simulated`` values match ``recorded`` (NaN: none)."""
        simulated = np.asarray(simulated, dtype=float)
        with np.errstate(invalid="ignore"):
            # the slack absorbs rounding (0.2 * 15 is 3.0000000000000004)
            return np.abs(simulated - recorded) <= self.half_width(recorded) + 1e-9


TOLERANCES: dict[str, Tolerance] = {
    "spike_count": Tolerance("spikes", 1.0, 0.20,
                             "the acceptance measure: ±20 % of the recorded count, at least "
                             "±1 spike"),
    "rest_mean": Tolerance("mV", 3.0, 0.0,
                           "the acceptance's 3 mV: a resting potential is known to a few mV "
                           "(liquid-junction potential, seal)"),
    "rest_std": Tolerance("mV", 0.5, 0.5,
                          "membrane noise at rest: ±50 %, at least 0.5 mV (the amplifier's "
                          "noise alone is a few tenths of a mV)"),
    "stim_mean": Tolerance("mV", 5.0, 0.0,
                           "a mean potential like rest, plus what the spikes add to it (about "
                           "1 mV for ±20 % of ten spikes in 500 ms)"),
    "stim_var": Tolerance("mV²", 10.0, 0.30,
                          "the spikes make most of it: ±30 %, a little wider than the spike "
                          "count's ±20 %; at least 10 mV² (a silent window's variance is its "
                          "charging curve's)"),
    "stim_skew": Tolerance("1", 0.5, 0.30,
                           "a shape moment of the window: ±30 %, at least 0.5"),
    "stim_kurtosis": Tolerance("1", 1.0, 0.50,
                               "the moment most sensitive to a few spikes more or less: "
                               "±50 %, at least 1"),
    "isi_mean": Tolerance("ms", 2.0, 0.20,
                          "the firing rate, as the spike count: ±20 %, at least 2 ms"),
    "isi_cv": Tolerance("1", 0.1, 0.50,
                        "irregularity and adaptation: ±50 %, at least 0.1"),
    "first_spike_latency": Tolerance("ms", 5.0, 0.30,
                                     "±30 %, at least 5 ms: a delayed first spike varies by "
                                     "several ms from trial to trial"),
    "ap_peak": Tolerance("mV", 10.0, 0.0, "the acceptance's 10 mV"),
    "ap_threshold": Tolerance("mV", 5.0, 0.0,
                              "thresholds of one cell's spikes vary by a few mV"),
    "ap_amplitude": Tolerance("mV", 10.0, 0.0, "as the peak, from threshold"),
    "ap_half_width": Tolerance("ms", 0.2, 0.30,
                               "a few samples at 20 kHz; widths differ by tens of % between "
                               "cells of one type"),
    "ahp_depth": Tolerance("mV", 3.0, 0.30, "as the rest (3 mV), or 30 % of a deep AHP"),
    "adaptation_index": Tolerance("1", 0.05, 0.50,
                                  "an index near 0 for regular firing: an absolute floor"),
    "first_isi": Tolerance("ms", 2.0, 0.30, "as the other interval features"),
    "input_resistance": Tolerance("MΩ", 10.0, 0.20,
                                  "R_in varies by 10-30 % over one recording's sweeps"),
    "membrane_tau": Tolerance("ms", 2.0, 0.30,
                              "the fitted τ moves by 2-14 % with the fit window"),
    "sag_ratio": Tolerance("1", 0.05, 0.50, "sag ratios of 0.03-0.3: an absolute floor"),
}
"""Feature (base name, without ``@sweep``) -> its tolerance. The one table: the fit, the
figure's tolerance bands and docs/recordings.md read it."""

SPIKE_COUNT = "spike_count"
BLOCK_MV = -40.0
"""Depolarisation block holds the potential above this [mV] at the end of the stimulus
window (:meth:`TraceMeasures.blocked`): above the plateau of a cell that merely stopped
firing (below about -45 mV for HH-type cells), below a blocked one's (-35 to 0 mV)."""
LATE_FRACTION = 0.25
"""Block: firing has stopped for at least this fraction of the stimulus window (its last
quarter), and the mean potential over that last quarter is above :data:`BLOCK_MV`."""
QUIET_ISIS = 2.0
"""Block: firing has stopped for at least this many of the simulation's own mean
interspike intervals (a slow regular firer's last interval is no block)."""
MAP_SIMULATIONS = 10
"""HF simulations at the posterior's most probable point per model (a 10 % resolution of
the MAP's fractions; 10 % of the default 100 predictive simulations in cost)."""


def tolerance(feature: str) -> Tolerance:
    """The tolerance of ``feature`` (``"rest_mean"`` or ``"rest_mean@3"``); ``ValueError``
    naming the table when it has none."""
    base, _ = split_name(feature)
    if base not in TOLERANCES:
        raise ValueError(f"feature {base!r} has no tolerance in mfnpe.observation.fit."
                         f"TOLERANCES ({', '.join(TOLERANCES)}): add one there and to "
                         "docs/recordings.md, 'Measure of fit'")
    return TOLERANCES[base]


# ---- what the traces tell: spikes before the stimulus, block ----

@dataclass(frozen=True)
class SweepWindows:
    """One sweep's windows in sweep time [ms]: rest ``[0, rest_end)``, the stimulus window
    ``[t_on, t_off)``, of a sweep ``duration`` long; ``sweep`` its index (None: the step)."""

    sweep: int | None
    duration: float
    rest_end: float
    t_on: float
    t_off: float

    @property
    def late_start(self) -> float:
        """Start of the last :data:`LATE_FRACTION` of the stimulus window [ms]."""
        return self.t_off - LATE_FRACTION * (self.t_off - self.t_on)


def sweep_windows(stimulus: Mapping) -> tuple[SweepWindows, ...]:
    """The windows of every sweep of a ``stimulus`` (a config's section once resolved, or a
    job's simulation stimulus: the step's duration, t_on, t_off, or the sweeps' protocols),
    in x's order. The feature windows are :func:`mfnpe.stimulus.windows.epoch_windows`'."""
    if not is_recording(stimulus):
        return (SweepWindows(None, float(stimulus["duration"]), float(stimulus["t_on"]),
                             float(stimulus["t_on"]), float(stimulus["t_off"])),)
    return tuple(SweepWindows(int(p["sweep"]), float(p["duration"]),
                              *epoch_windows(p["epochs"])) for p in stimulus["protocols"])


@dataclass(frozen=True)
class TraceMeasures:
    """What the features of n traces do not tell, per sweep: (n, s) arrays, and the
    sweeps' stimulus-window lengths ``window_ms`` (s,).

    pre_spikes : spikes with their peak in the rest window (before the stimulus).
    quiet_end : how long the trace has not fired at the end of the stimulus window [ms]:
        from its last spike in the window to the window's end (the window's length when it
        has none there).
    isi_mean : mean interval between its spikes in the window [ms] (NaN: fewer than two).
    late_mean : mean potential over the last :data:`LATE_FRACTION` of the window [mV]
        (NaN for a diverged trace).
    """

    pre_spikes: np.ndarray
    quiet_end: np.ndarray
    isi_mean: np.ndarray
    late_mean: np.ndarray
    window_ms: np.ndarray

    ARRAYS = ("pre_spikes", "quiet_end", "isi_mean", "late_mean")
    """The (n, s) arrays (what ``ppc.h5`` stores besides ``window_ms``)."""

    def blocked(self) -> np.ndarray:
        """(n, s) bool: in depolarisation block: firing has stopped for the last
        :data:`LATE_FRACTION` of the window and for :data:`QUIET_ISIS` of its own mean
        intervals or longer, and the mean potential over the window's last
        :data:`LATE_FRACTION` is above :data:`BLOCK_MV` (whether or not it fired first)."""
        isi = np.nan_to_num(np.asarray(self.isi_mean, dtype=float), nan=0.0)
        with np.errstate(invalid="ignore"):
            stopped = ((self.quiet_end >= LATE_FRACTION * np.asarray(self.window_ms) - 1e-9)
                       & (self.quiet_end >= QUIET_ISIS * isi))
            return stopped & (self.late_mean > BLOCK_MV)

    def prestimulus(self) -> np.ndarray:
        """(n, s) bool: at least one spike before the stimulus."""
        return self.pre_spikes > 0

    def take(self, rows) -> TraceMeasures:
        """The measures of traces ``rows`` (an index or a mask)."""
        return TraceMeasures(*(getattr(self, name)[rows] for name in self.ARRAYS),
                             self.window_ms)


# ---- the fit ----

@dataclass(frozen=True)
class SweepFit:
    """The fit of n simulations to one sweep of a recording. Fractions are of all n
    simulations (a diverged one matches nothing and is in no state).

    recorded_spikes : the recording's spike count in the stimulus window (NaN: no
        ``spike_count`` feature).
    recorded_blocked, recorded_prestimulus : the recording's own state (None: no trace).
    spikes : fraction within the spike-count tolerance (NaN: no ``spike_count`` feature).
    all_features : fraction within tolerance on every feature of the sweep.
    silent : fraction without a spike in the stimulus window and not in block; NaN where the
        recording itself is silent (then silence is a match, counted in ``spikes``).
    blocked, prestimulus : fractions in depolarisation block, firing before the stimulus
        (NaN: no trace measures).
    features : feature (base name) -> fraction within its tolerance.
    """

    sweep: int | None
    recorded_spikes: float
    recorded_blocked: bool | None
    recorded_prestimulus: bool | None
    spikes: float
    all_features: float
    silent: float
    blocked: float
    prestimulus: float
    features: Mapping[str, float]


@dataclass(frozen=True)
class SetFit:
    """The fit of one set of n HF simulations (at posterior draws, or at the MAP) to every
    sweep of a recording; ``invalid`` the fraction that diverged."""

    n: int
    invalid: float
    sweeps: tuple[SweepFit, ...]

    WORST_IS_HIGHEST = ("silent", "blocked", "prestimulus")

    def worst(self, name: str) -> float:
        """Over the sweeps: the lowest ``spikes`` or ``all_features`` fraction, the highest
        ``silent``, ``blocked`` or ``prestimulus`` one (NaN sweeps aside; NaN if all are)."""
        values = np.array([getattr(sweep, name) for sweep in self.sweeps], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            return math.nan
        return float(values.max() if name in self.WORST_IS_HIGHEST else values.min())


@dataclass(frozen=True)
class ModelFit:
    """One model's fit: at its posterior draws and (None when not simulated) at its MAP."""

    run: Mapping
    predictive: SetFit
    map: SetFit | None


@dataclass(frozen=True)
class RecordingFit:
    """Every predictive-check model's fit to one recording, in the check's order (MF-NPE
    first)."""

    name: str
    models: tuple[ModelFit, ...]

    def model(self, run: Mapping) -> ModelFit | None:
        """The fit of model ``run`` (its method, n_lf, n_hf, seed), or None."""
        for found in self.models:
            if all(found.run.get(key) == run.get(key) for key in ("method", "n_lf", "n_hf",
                                                                   "seed")):
                return found
        return None


def _sweep_columns(feature_names: Sequence[str]) -> list[tuple[int | None, dict[str, int]]]:
    """[(sweep, {base feature: column})] in the order the sweeps first appear."""
    found: dict[int | None, dict[str, int]] = {}
    for j, name in enumerate(feature_names):
        base, sweep = split_name(name)
        found.setdefault(sweep, {})[base] = j
    return list(found.items())


def _mean(mask: np.ndarray, n: int) -> float:
    return float(np.sum(mask) / n) if n else math.nan


def within_tolerances(x_recorded: np.ndarray, feature_names: Sequence[str], x: np.ndarray
                      ) -> np.ndarray:
    """(n, f) bool: simulation i's feature j within its tolerance of the recording's
    ``x_recorded`` (f,); ``x`` (n, f), columns ``feature_names`` (NaN: not within)."""
    return np.stack([tolerance(name).within(x[:, j], x_recorded[j])
                     for j, name in enumerate(feature_names)], axis=1)


def fit_set(x_recorded: np.ndarray, feature_names: Sequence[str], x: np.ndarray,
            valid: np.ndarray, measures: TraceMeasures | None = None,
            recorded: TraceMeasures | None = None) -> SetFit:
    """The fit of n simulations with features ``x`` (n, f) (NaN rows where diverged),
    ``valid`` (n,), to a recording's features ``x_recorded`` (f,); columns
    ``feature_names`` (``f@sweep`` under a recording's sweeps). ``measures`` (n, s) and
    ``recorded`` (1, s): the simulations' and the recording's :class:`TraceMeasures`, sweep
    j the j-th sweep of the names (without them block and pre-stimulus firing are NaN).
    Raises ``ValueError`` for a feature without a tolerance or shapes that do not fit."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    x_recorded = np.asarray(x_recorded, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    n, f = len(valid), len(feature_names)
    if x.shape != (n, f) or x_recorded.shape != (f,):
        raise ValueError(f"x {x.shape}, x_recorded {x_recorded.shape} and valid ({n},) do not "
                         f"fit {f} features")
    within = valid[:, None] & within_tolerances(x_recorded, feature_names, x)
    columns = _sweep_columns(feature_names)
    for found, label in ((measures, "measures"), (recorded, "recorded")):
        if found is not None and found.pre_spikes.shape[1] != len(columns):
            raise ValueError(f"{label} hold {found.pre_spikes.shape[1]} sweeps, the features "
                             f"{len(columns)}")
    if measures is not None and len(measures.pre_spikes) != n:
        raise ValueError(f"measures of {len(measures.pre_spikes)} simulations, not {n}")
    sweeps = []
    for s, (sweep, by_name) in enumerate(columns):
        blocked = valid & measures.blocked()[:, s] if measures is not None else None
        count = by_name.get(SPIKE_COUNT)
        recorded_spikes = x_recorded[count] if count is not None else math.nan
        if count is None:
            spikes = silent = math.nan
        else:
            spikes = _mean(within[:, count], n)
            quiet = valid & (x[:, count] == 0)
            if blocked is not None:
                quiet &= ~blocked
            silent = _mean(quiet, n) if recorded_spikes > 0 else math.nan
        sweeps.append(SweepFit(
            sweep=sweep,
            recorded_spikes=float(recorded_spikes),
            recorded_blocked=None if recorded is None else bool(recorded.blocked()[0, s]),
            recorded_prestimulus=None if recorded is None else bool(recorded.prestimulus()[0, s]),
            spikes=spikes,
            all_features=_mean(within[:, list(by_name.values())].all(axis=1), n),
            silent=silent,
            blocked=math.nan if blocked is None else _mean(blocked, n),
            prestimulus=(math.nan if measures is None
                         else _mean(valid & measures.prestimulus()[:, s], n)),
            features={name: _mean(within[:, j], n) for name, j in by_name.items()},
        ))
    return SetFit(n, _mean(~valid, n), tuple(sweeps))


def recording_fit(check) -> RecordingFit:
    """The fit of every model of a predictive check (``mfnpe.observation.posterior.
    PredictiveCheck``): its predictive set and, where simulated, its MAP set, against the
    recording's features and its stored trace measures (``check.measures``)."""
    recorded = check.measures
    models = []
    for method, found in check.sets.items():
        at_map = check.map_sets.get(method)
        models.append(ModelFit(
            dict(found.run),
            fit_set(check.x, check.feature_names, found.x, found.valid, found.measures,
                    recorded),
            None if at_map is None else fit_set(check.x, check.feature_names, at_map.x,
                                                at_map.valid, at_map.measures, recorded)))
    return RecordingFit(check.name, tuple(models))


# ---- tables, figure notes, the console ----

FRACTIONS = {"spikes": "spikes", "all_features": "all", "silent": "silent",
             "blocked": "blocked", "prestimulus": "prestim"}
"""SweepFit field -> its name in the columns of observations.csv."""


def column(name: str, sweep: int | None) -> str:
    """``name@sweep`` under a recording's sweeps, ``name`` under the step."""
    return name if sweep is None else f"{name}{SWEEP_SEPARATOR}{sweep}"


def recording_columns(fit: RecordingFit) -> dict:
    """The recording's own per-sweep columns of observations.csv (every model row):
    ``recorded_spikes``, ``recorded_blocked``, ``recorded_prestim`` (@sweep)."""
    if not fit.models:
        return {}
    row = {}
    for sweep in fit.models[0].predictive.sweeps:
        row[column("recorded_spikes", sweep.sweep)] = sweep.recorded_spikes
        for name, value in (("recorded_blocked", sweep.recorded_blocked),
                            ("recorded_prestim", sweep.recorded_prestimulus)):
            row[column(name, sweep.sweep)] = math.nan if value is None else float(value)
    return row


def model_columns(fit: ModelFit) -> dict:
    """A model's fit columns of observations.csv: ``fit_n``, ``fit_invalid``, per sweep
    ``fit_spikes``, ``fit_all``, ``fit_silent``, ``fit_blocked``, ``fit_prestim`` and
    ``fit_within_<feature>``, over the sweeps ``fit_<fraction>_worst``; the same at the MAP
    as ``fit_map_*`` (without the per-feature fractions; NaN when not simulated)."""
    row = {}
    for prefix, found in (("fit", fit.predictive), ("fit_map", fit.map)):
        row[f"{prefix}_n"] = found.n if found else 0
        row[f"{prefix}_invalid"] = found.invalid if found else math.nan
        sweeps = found.sweeps if found else fit.predictive.sweeps
        for sweep in sweeps:
            for field, name in FRACTIONS.items():
                row[column(f"{prefix}_{name}", sweep.sweep)] = (
                    getattr(sweep, field) if found else math.nan)
            if prefix == "fit":
                for feature, value in sweep.features.items():
                    row[column(f"fit_within_{feature}", sweep.sweep)] = value
        for field, name in FRACTIONS.items():
            row[f"{prefix}_{name}_worst"] = found.worst(field) if found else math.nan
    return row


def _percent(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f} %"


def panel_note(predictive: SweepFit, at_map: SweepFit | None = None) -> str:
    """A predictive-check panel's note: the sweep's fit at the draws (and at the MAP)."""
    lines = [(f"fit {_percent(predictive.spikes)} (±20 % spikes), "
              f"{_percent(predictive.all_features)} all features"),
             (f"silent {_percent(predictive.silent)}, block {_percent(predictive.blocked)}, "
              f"pre-stim. {_percent(predictive.prestimulus)}")]
    if at_map is not None:
        lines.append(f"MAP: {_percent(at_map.spikes)} spikes, "
                     f"{_percent(at_map.all_features)} all")
    return "\n".join(lines)


def tolerance_bands(x_recorded: np.ndarray, feature_names: Sequence[str]
                    ) -> list[tuple[float, float]]:
    """[(low, high)] per feature: the values within tolerance of the recording's."""
    bands = []
    for name, value in zip(feature_names, np.asarray(x_recorded, dtype=float)):
        width = tolerance(name).half_width(value)
        bands.append((value - width, value + width))
    return bands


def _number(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


CONSOLE_LABELS = {"mf_npe": "MF-NPE", "npe": "NPE", "lf_npe": "LF-NPE", "tsnpe": "TSNPE",
                  "lf_tsnpe": "LF-TSNPE", "mf_tsnpe": "MF-TSNPE", "a_mf_tsnpe": "A-MF-TSNPE"}


def console_lines(path) -> list[str]:
    """The end of a run: one line per recording of ``observations.csv`` at ``path``: its
    misspecification verdict and MF-NPE's fit (else the first model with one), worst sweep,
    at the posterior draws and at the MAP, then a line per sequential chain with a fit.
    [] when the file does not exist."""
    return [line for lines in recording_lines(path).values() for line in lines]


def recording_lines(path) -> dict[str, list[str]]:
    """:func:`console_lines` by recording, in the table's order: ``{name: lines}``; {}
    when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_recording: dict[str, list[dict]] = {}
    for row in rows:
        by_recording.setdefault(row["recording"], []).append(row)
    lines: dict[str, list[str]] = {}
    for name, found in by_recording.items():
        p = _number(found[0].get("misspecification_p"))
        flagged = str(found[0].get("misspecification_flagged")).lower() == "true"
        verdict = f"{'ATYPICAL, flagged' if flagged else 'typical'} (p = {p:.3g})"
        fitted = [row for row in found if math.isfinite(_number(row.get("fit_spikes_worst")))]
        fitted.sort(key=lambda row: row["method"] != "mf_npe")  # stable: MF-NPE first
        if not fitted:
            lines[name] = [f"{name}: {verdict}; no measure of fit"]
            continue
        lines[name] = []
        shown = [fitted[0]] + [row for row in fitted[1:] if row["method"] in SEQUENTIAL_METHODS]
        for k, row in enumerate(shown):
            label = CONSOLE_LABELS.get(row["method"], row["method"])
            shares = {key: _percent(_number(row.get(key))) for key in (
                "fit_spikes_worst", "fit_all_worst", "fit_silent_worst", "fit_blocked_worst",
                "fit_prestim_worst", "fit_invalid", "fit_map_spikes_worst", "fit_map_all_worst")}
            lead = f"{name}: {verdict}; " if k == 0 else f"{name}: "
            lines[name].append(
                f"{lead}{label} worst sweep: {shares['fit_spikes_worst']} within "
                f"±20 % spikes, {shares['fit_all_worst']} all features, silent "
                f"{shares['fit_silent_worst']}, block {shares['fit_blocked_worst']}, pre-stim. "
                f"{shares['fit_prestim_worst']}, invalid {shares['fit_invalid']}; at the MAP "
                f"{shares['fit_map_spikes_worst']} / {shares['fit_map_all_worst']}")
    return lines

