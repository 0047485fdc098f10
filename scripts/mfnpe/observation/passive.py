"""Passive membrane properties of a current-clamp recording from its hyperpolarising pulses.

Every epoch of a sweep's command below the holding current, entered from the holding
current, is a *pulse*. From each pulse (:func:`measure_pulse`):

- ``rest_mV``: the mean voltage over the last :data:`BASELINE_MS` before the onset (at the
  holding current; the resting potential when that is 0 pA);
- ``steady_state_mV``: the mean over the last :data:`STEADY_FRACTION` of the pulse;
- ``input_resistance_MOhm``: (steady state − rest) / ΔI, ΔI the pulse's current minus the
  holding current (mV/pA = GΩ, × 1000);
- ``tau_m_ms``: the time constant of a *single* exponential ``a + b·exp(−t/τ)`` fitted by
  least squares to the voltage from the time the deflection first reaches
  :data:`FIT_START_FRACTION` (10 %) of the peak deflection to the time of the peak (the
  most negative voltage of the trace smoothed over :data:`SMOOTH_MS`): the first 10 % hold
  the bridge-balance jump and the fast electrode and dendritic transients, and the sag
  starts after the peak, so the window avoids both;
- ``capacitance_pF`` = τ_m / R_in (ms/MΩ = nF, × 1000) and ``area_um2`` = C_m / 1 µF/cm²
  (100 µm² per pF). Under a sag the fitted τ_m is shorter than the membrane's and C_m
  higher than its capacitance (by 3 % at sag ratio 0.09, 17 % at 0.2 in a linear model
  with a slow h-like conductance; docs/recordings.md, "Passive card");
- ``sag_ratio`` = (steady state − peak) / (rest − peak): 0 without sag, the fraction of the
  peak deflection that relaxes by the end of the pulse.

A pulse is excluded, with the reason kept in :attr:`PassiveCard.excluded`, when the sweep
spikes (crosses :data:`~mfnpe.simulation.features.SPIKE_THRESHOLD_MV` upwards) during the
pulse or before it in the same sweep (the after-hyperpolarisation and adaptation currents
shift the baseline), when the pulse is shorter than :data:`MIN_PULSE_MS`, when less than
:data:`MIN_BASELINE_MS` at the holding current precede it, when that baseline is not at
rest (SD above :data:`MAX_BASELINE_SD_MV`), when its peak deflection is not above
:data:`MIN_DEFLECTION_SD` baseline SDs, or when the fit fails. The card
(:func:`passive_card`) gives each quantity's median and spread over the kept pulses.

A file with no hyperpolarising epoch raises :class:`NoHyperpolarisingEpochError`; one
whose pulses are all excluded raises :class:`NoPassivePulseError` (both name the file).

Command line (docs/recordings.md, "Passive card")::

    python -m mfnpe.observation.passive FILE... [--sweeps 0 1 2] [--pulses] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mfnpe.recordings.ephys import Sweep, open_ephys
from mfnpe.stimulus.protocols import PA_TO_UA_PER_CM2, TIME_EPS_MS, Epoch
from mfnpe.recordings.errors import RecordingError
from mfnpe.simulation.features import (PASSIVE_FIT_START, PASSIVE_SMOOTH_MS,
                                       PASSIVE_STEADY_FRACTION, SPIKE_THRESHOLD_MV)
from mfnpe.stimulus.windows import PASSIVE_BASELINE_MS, PASSIVE_MIN_BASELINE_MS

# the pulse measures' definitions, shared with the passive features (one source)
BASELINE_MS = PASSIVE_BASELINE_MS
"""Rest is the mean over at most this long [ms] before the onset (less when the holding
current is held for less)."""
MIN_BASELINE_MS = PASSIVE_MIN_BASELINE_MS
"""A pulse needs at least this long [ms] at the holding current before its onset."""
MIN_PULSE_MS = 20.0
"""Shorter pulses [ms] are excluded (no steady state)."""
STEADY_FRACTION = PASSIVE_STEADY_FRACTION
"""The steady state is the mean over the last 20 % of the pulse."""
SMOOTH_MS = PASSIVE_SMOOTH_MS
"""Width [ms] of the centred moving average that finds the peak and the fit's start."""
FIT_START_FRACTION = PASSIVE_FIT_START
"""The fit starts where the deflection first reaches this fraction of the peak deflection."""
MIN_FIT_SAMPLES = 10
"""A fit window of fewer samples fails."""
MIN_DEFLECTION_SD = 5.0
"""The peak deflection must exceed this many standard deviations of the baseline."""
MAX_BASELINE_SD_MV = 2.0
"""A baseline whose SD exceeds this [mV] is not at rest: the cell fires or oscillates
there (a spike's decay, an after-hyperpolarisation), its active conductances are open
and the pulse's response is not passive. The kept pulses of the three shared recordings
have baseline SDs of 0.01–0.68 mV; a spontaneously firing cell's 5–16 mV."""
TAU_GRID = 200
"""Time constants tried, log-spaced from one sample to 10 fit windows, before refining."""
MOHM_PER_MV_PER_PA = 1000.0
"""1 mV / 1 pA = 1 GΩ = 1000 MΩ."""
PF_PER_MS_PER_MOHM = 1000.0
"""1 ms / 1 MΩ = 1 nF = 1000 pF."""
UM2_PER_PF = PA_TO_UA_PER_CM2
"""At 1 µF/cm² = 0.01 pF/µm², 1 pF is 100 µm² (as 1 pA on A µm² is 100/A µA/cm²)."""


class NoHyperpolarisingEpochError(RecordingError):
    """No sweep of the file has an epoch below the holding current."""


class NoPassivePulseError(RecordingError):
    """The file has hyperpolarising epochs but every one was excluded."""


class UnmeasurablePulse(Exception):
    """One pulse cannot be measured; the message is the reason (it becomes an
    :class:`ExcludedPulse`)."""


@dataclass(frozen=True)
class PassivePulse:
    """The passive measures of one hyperpolarising pulse.

    Attributes
    ----------
    sweep : sweep index in the file.
    start_ms, duration_ms : the pulse's epoch [ms] (sweep time).
    current_pA : ΔI, the pulse's command minus the holding current [pA] (< 0).
    rest_mV : mean voltage before the onset [mV].
    steady_state_mV : mean voltage over the last :data:`STEADY_FRACTION` of the pulse [mV].
    peak_mV : the most negative voltage of the smoothed trace during the pulse [mV].
    input_resistance_MOhm : (steady_state − rest) / ΔI [MΩ].
    tau_m_ms : single-exponential time constant [ms].
    capacitance_pF : τ_m / R_in [pF].
    area_um2 : the membrane area at 1 µF/cm² [µm²].
    sag_ratio : (steady_state − peak) / (rest − peak) [1]; 0 = no sag.
    fit_start_ms, fit_stop_ms : the fit window [ms] from the onset.
    fit_rmse_mV : root mean square residual of the fit [mV].
    """

    sweep: int
    start_ms: float
    duration_ms: float
    current_pA: float
    rest_mV: float
    steady_state_mV: float
    peak_mV: float
    input_resistance_MOhm: float
    tau_m_ms: float
    capacitance_pF: float
    area_um2: float
    sag_ratio: float
    fit_start_ms: float
    fit_stop_ms: float
    fit_rmse_mV: float


@dataclass(frozen=True)
class ExcludedPulse:
    """A hyperpolarising pulse left out of the card: sweep index, epoch start [ms], ΔI
    [pA] and why."""

    sweep: int
    start_ms: float
    current_pA: float
    reason: str


@dataclass(frozen=True)
class Spread:
    """One quantity over the kept pulses: median, quartiles and range (same unit)."""

    median: float
    q25: float
    q75: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        x = np.asarray(values, dtype=np.float64)
        q25, median, q75 = np.percentile(x, [25.0, 50.0, 75.0])
        return cls(float(median), float(q25), float(q75), float(x.min()), float(x.max()))

    @property
    def relative_iqr(self) -> float:
        """(q75 − q25) / |median|: the spread relative to the value."""
        return (self.q75 - self.q25) / abs(self.median) if self.median else math.inf


@dataclass(frozen=True)
class PassiveCard:
    """A recording's passive properties: per pulse and summarised over the kept pulses.

    Attributes
    ----------
    source : the file.
    currents_pA : the distinct ΔI of the kept pulses [pA].
    rest_mV, input_resistance_MOhm, tau_m_ms, capacitance_pF, area_um2, sag_ratio :
        :class:`Spread` of each :class:`PassivePulse` measure over the kept pulses (the
        capacitance and area are the per-pulse τ_m / R_in, summarised).
    pulses : the kept pulses, in sweep and time order.
    excluded : the pulses left out, with the reason.
    """

    source: str
    currents_pA: tuple[float, ...]
    rest_mV: Spread
    input_resistance_MOhm: Spread
    tau_m_ms: Spread
    capacitance_pF: Spread
    area_um2: Spread
    sag_ratio: Spread
    pulses: tuple[PassivePulse, ...]
    excluded: tuple[ExcludedPulse, ...]

    def to_dict(self) -> dict:
        """Plain data (for JSON)."""
        return asdict(self)


QUANTITIES = (("rest_mV", "rest", "mV"), ("input_resistance_MOhm", "input resistance R_in", "MΩ"),
              ("tau_m_ms", "time constant τ_m", "ms"), ("capacitance_pF", "capacitance C_m", "pF"),
              ("area_um2", "area at 1 µF/cm²", "µm²"), ("sag_ratio", "sag ratio", "1"))
"""(card field, label, unit) of the summarised quantities, in table order."""


def _smooth(v: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples; the edges average what is there."""
    if width <= 1:
        return v.copy()
    kernel = np.ones(width)
    total = np.convolve(v, kernel, mode="same")
    count = np.convolve(np.ones_like(v), kernel, mode="same")
    return total / count


def fit_exponential(t: np.ndarray, v: np.ndarray, dt: float) -> tuple[float, float, float, float]:
    """Least-squares ``v ≈ a + b·exp(−t/τ)``: ``(τ, a, b, rmse)``.

    For each τ the best a and b are linear; τ is searched on a log grid of
    :data:`TAU_GRID` values from ``dt`` to 10 × the window, then refined by a bounded scalar
    minimisation between the grid neighbours of the best. Raises
    :class:`UnmeasurablePulse` when the best τ is at either end of the grid (no exponential
    in the window).
    """
    from scipy.optimize import minimize_scalar

    t = np.asarray(t, dtype=np.float64) - t[0]
    span = max(float(t[-1]), dt)

    def solve(log_tau: float):
        design = np.column_stack([np.ones_like(t), np.exp(-t / math.exp(log_tau))])
        coef, *_ = np.linalg.lstsq(design, v, rcond=None)
        residual = v - design @ coef
        return float(residual @ residual), coef

    grid = np.linspace(math.log(dt), math.log(10.0 * span), TAU_GRID)
    sse = np.array([solve(g)[0] for g in grid])
    best = int(np.argmin(sse))
    if best in (0, TAU_GRID - 1):
        raise UnmeasurablePulse(f"no exponential in the fit window (best τ at the end of "
                                f"[{dt:g}, {10 * span:g}] ms)")
    found = minimize_scalar(lambda g: solve(g)[0], bounds=(grid[best - 1], grid[best + 1]),
                            method="bounded", options={"xatol": 1e-6})
    log_tau = float(found.x) if found.fun <= sse[best] else float(grid[best])
    total, (a, b) = solve(log_tau)
    return math.exp(log_tau), float(a), float(b), math.sqrt(total / t.size)


def measure_pulse(time: np.ndarray, voltage: np.ndarray, dt: float, start_ms: float,
                  duration_ms: float, current_pA: float, baseline_ms: float,
                  sweep: int = 0) -> PassivePulse:
    """The passive measures of one pulse of a sweep's samples.

    Parameters
    ----------
    time, voltage : (T,) sample times [ms] and membrane potential [mV] of the sweep.
    dt : sampling interval [ms].
    start_ms, duration_ms : the pulse [ms] in the sweep's time.
    current_pA : ΔI, the pulse's current minus the holding current [pA], < 0.
    baseline_ms : how long the holding current is held before the onset [ms]; rest is the
        mean over the last ``min(baseline_ms, BASELINE_MS)``.
    sweep : the sweep index, recorded in the result.

    Raises :class:`UnmeasurablePulse` (the reason in its message) when the pulse cannot be
    measured.
    """
    if duration_ms < MIN_PULSE_MS:
        raise UnmeasurablePulse(f"pulse of {duration_ms:g} ms, shorter than {MIN_PULSE_MS:g} ms")
    if baseline_ms < MIN_BASELINE_MS:
        raise UnmeasurablePulse(f"only {baseline_ms:g} ms at the holding current before the "
                                f"pulse (at least {MIN_BASELINE_MS:g} ms needed)")
    end_ms = start_ms + duration_ms
    eps = TIME_EPS_MS
    base = voltage[(time >= start_ms - min(baseline_ms, BASELINE_MS) - eps)
                   & (time < start_ms - eps)]
    inside = (time >= start_ms - eps) & (time < end_ms - eps)
    t_pulse, v_pulse = time[inside] - start_ms, voltage[inside]
    steady = v_pulse[t_pulse >= (1.0 - STEADY_FRACTION) * duration_ms - eps]
    if base.size < 2 or steady.size < 2 or v_pulse.size < MIN_FIT_SAMPLES:
        raise UnmeasurablePulse("too few samples in the baseline or the pulse")
    rest, v_ss = float(base.mean()), float(steady.mean())
    smooth = _smooth(v_pulse, max(int(round(SMOOTH_MS / dt)), 1))
    k_peak = int(np.argmin(smooth))
    peak = float(smooth[k_peak])
    noise = float(base.std())
    if noise > MAX_BASELINE_SD_MV:
        raise UnmeasurablePulse(f"the baseline is not at rest (SD {noise:.3g} mV before the "
                                f"pulse, above {MAX_BASELINE_SD_MV:g} mV: the cell fires or "
                                f"oscillates there)")
    if rest - peak <= MIN_DEFLECTION_SD * noise or v_ss >= rest:
        raise UnmeasurablePulse(f"no hyperpolarisation above the noise (peak deflection "
                                f"{peak - rest:.3g} mV, steady state {v_ss - rest:.3g} mV, "
                                f"baseline SD {noise:.3g} mV)")
    # the fit starts where the smoothed deflection first reaches 10 % of the peak's, and
    # at least half a smoothing window after the onset (the average there still mixes in
    # the baseline)
    reached = np.flatnonzero(rest - smooth[:k_peak + 1] >= FIT_START_FRACTION * (rest - peak))
    k_start = max(int(reached[0]), int(round(0.5 * SMOOTH_MS / dt)))
    if k_peak + 1 - k_start < MIN_FIT_SAMPLES:
        raise UnmeasurablePulse(f"fit window of {k_peak + 1 - k_start} samples (from "
                                f"{t_pulse[k_start]:g} ms to the peak at {t_pulse[k_peak]:g} ms)")
    tau, _, _, rmse = fit_exponential(t_pulse[k_start:k_peak + 1], v_pulse[k_start:k_peak + 1], dt)
    r_in = (v_ss - rest) / current_pA * MOHM_PER_MV_PER_PA
    capacitance = tau / r_in * PF_PER_MS_PER_MOHM
    return PassivePulse(
        sweep=int(sweep), start_ms=float(start_ms), duration_ms=float(duration_ms),
        current_pA=float(current_pA), rest_mV=rest, steady_state_mV=v_ss, peak_mV=peak,
        input_resistance_MOhm=float(r_in), tau_m_ms=float(tau), capacitance_pF=float(capacitance),
        area_um2=float(capacitance * UM2_PER_PF), sag_ratio=float((v_ss - peak) / (rest - peak)),
        fit_start_ms=float(t_pulse[k_start]), fit_stop_ms=float(t_pulse[k_peak]),
        fit_rmse_mV=float(rmse))


def hyperpolarising_epochs(sweep: Sweep) -> list[tuple[Epoch, float]]:
    """``[(epoch, baseline_ms)]``: the sweep's epochs below the holding current, each with
    how long the holding current is held right before it (0 when another epoch precedes
    it directly)."""
    protocol = sweep.protocol
    found, previous_end = [], 0.0
    for epoch in protocol.epochs:
        if epoch.amplitude < protocol.holding:
            found.append((epoch, max(epoch.start - previous_end, 0.0)))
        previous_end = epoch.end
    return found


def sweep_pulses(sweep: Sweep) -> tuple[list[PassivePulse], list[ExcludedPulse]]:
    """The measured and the excluded hyperpolarising pulses of one sweep."""
    kept, excluded = [], []
    above = sweep.voltage > SPIKE_THRESHOLD_MV
    crossings = sweep.time[1:][above[1:] & ~above[:-1]]
    if above[0]:
        crossings = np.concatenate([[sweep.time[0]], crossings])
    for epoch, baseline in hyperpolarising_epochs(sweep):
        current = epoch.amplitude - sweep.protocol.holding
        during = int(((crossings >= epoch.start) & (crossings < epoch.end)).sum())
        before = int((crossings < epoch.start).sum())
        try:
            if during:
                raise UnmeasurablePulse(f"{during} spike(s) during the pulse")
            if before:
                raise UnmeasurablePulse(f"{before} spike(s) before the pulse in this sweep")
            kept.append(measure_pulse(sweep.time, sweep.voltage, sweep.dt, epoch.start,
                                      epoch.duration, current, baseline, sweep.index))
        except UnmeasurablePulse as why:
            excluded.append(ExcludedPulse(sweep.index, float(epoch.start), float(current),
                                          str(why)))
    return kept, excluded


def card_of(source: str, pulses: Sequence[PassivePulse],
            excluded: Sequence[ExcludedPulse] = ()) -> PassiveCard:
    """The :class:`PassiveCard` of measured pulses (at least one)."""
    if not pulses:
        raise NoPassivePulseError(f"{source}: no hyperpolarising pulse could be measured")
    spreads = {field: Spread.of([getattr(p, field) for p in pulses])
               for field, _, _ in QUANTITIES}
    return PassiveCard(source=str(source),
                       currents_pA=tuple(sorted({p.current_pA for p in pulses})),
                       pulses=tuple(pulses), excluded=tuple(excluded), **spreads)


def passive_card(path, sweeps: Sequence[int] | None = None) -> PassiveCard:
    """The passive card of a recording (ABF or NWB) from the hyperpolarising pulses of
    ``sweeps`` (indices; default every current-clamp sweep).

    Raises :class:`NoHyperpolarisingEpochError` when no chosen sweep has an epoch below
    the holding current, :class:`NoPassivePulseError` when every pulse is excluded (the
    reasons in the message), and the readers' :class:`RecordingError` s.
    """
    kept, excluded = [], []
    with open_ephys(path) as ephys:
        indices = ([s.index for s in ephys.sweeps if s.clamp != "voltage"]
                   if sweeps is None else list(sweeps))
        protocols = {i: ephys.protocol(i) for i in indices}
        candidates = [i for i in indices
                      if any(e.amplitude < protocols[i].holding for e in protocols[i].epochs)]
        if not candidates:
            raise NoHyperpolarisingEpochError(
                f"{path}: no hyperpolarising epoch (a command below the holding current) in "
                f"{'any' if sweeps is None else 'the chosen'} sweep(s) {indices}: the passive "
                "card needs one")
        for index in candidates:
            sweep_kept, sweep_excluded = sweep_pulses(ephys.read(index))
            kept += sweep_kept
            excluded += sweep_excluded
    if not kept:
        reasons = "; ".join(f"sweep {e.sweep} at {e.start_ms:g} ms: {e.reason}"
                            for e in excluded[:5])
        more = f" (and {len(excluded) - 5} more)" if len(excluded) > 5 else ""
        raise NoPassivePulseError(f"{path}: all {len(excluded)} hyperpolarising pulses were "
                                  f"excluded: {reasons}{more}")
    return card_of(str(path), kept, excluded)


def area_range(card: PassiveCard, factor: float) -> tuple[float, float]:
    """(low, high) [µm²] of an area prior that covers the card's pulses with a margin
    ``factor`` (≥ 1) either side: low is the smallest sag-corrected area, C_m·(1 − sag)
    (the fitted τ_m is short under a sag, so C_m is an upper estimate and C_m·(1 − sag)
    a lower one; docs/recordings.md, "Passive card"), divided by ``factor``; high the
    largest C_m area times ``factor``."""
    if factor < 1:
        raise ValueError(f"the area prior's factor must be at least 1, got {factor:g}")
    low = min(p.area_um2 * (1.0 - p.sag_ratio) for p in card.pulses)
    return low / factor, max(p.area_um2 for p in card.pulses) * factor


def area_prior_from_recording(path, factor: float) -> tuple[float, float]:
    """:func:`area_range` of the passive card of every sweep of the recording ``path``."""
    return area_range(passive_card(path), factor)


# ---------------------------------------------------------------------------- command line

def _number(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"


def format_card(card: PassiveCard, pulses: bool = False) -> str:
    """The card as a text table (and, with ``pulses``, one row per kept pulse)."""
    currents = ", ".join(f"{c:g}" for c in card.currents_pA)
    sweeps = sorted({p.sweep for p in card.pulses})
    lines = [f"{card.source}: {len(card.pulses)} pulse(s) of {currents} pA in "
             f"{len(sweeps)} sweep(s); {len(card.excluded)} excluded",
             f"  {'quantity':<28} {'unit':<5} {'median':>9} {'q25':>9} {'q75':>9} "
             f"{'min':>9} {'max':>9}"]
    for field, label, unit in QUANTITIES:
        s: Spread = getattr(card, field)
        lines.append(f"  {label:<28} {unit:<5} " + " ".join(
            f"{_number(x):>9}" for x in (s.median, s.q25, s.q75, s.minimum, s.maximum)))
    low, high = area_range(card, 2.0)
    lines.append(f"  area prior covering the pulses' range ×/÷ 2 (= prior: {{area: "
                 f"{{from_recording: 2}}}}): {{low: {_number(low)}, high: {_number(high)}, "
                 "scale: log}  # µm²")
    for e in card.excluded:
        lines.append(f"  excluded: sweep {e.sweep}, {e.current_pA:g} pA at {e.start_ms:g} ms: "
                     f"{e.reason}")
    if pulses:
        lines.append(f"  {'sweep':>5} {'start ms':>9} {'ΔI pA':>7} {'rest':>7} {'ss':>7} "
                     f"{'peak':>7} {'R_in MΩ':>8} {'τ_m ms':>7} {'C_m pF':>7} {'sag':>6} "
                     f"{'fit ms':>13}")
        for p in card.pulses:
            lines.append(f"  {p.sweep:>5} {p.start_ms:>9g} {p.current_pA:>7g} {p.rest_mV:>7.2f} "
                         f"{p.steady_state_mV:>7.2f} {p.peak_mV:>7.2f} "
                         f"{p.input_resistance_MOhm:>8.1f} {p.tau_m_ms:>7.2f} "
                         f"{p.capacitance_pF:>7.1f} {p.sag_ratio:>6.3f} "
                         f"{p.fit_start_ms:>6.2f}-{p.fit_stop_ms:<6.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mfnpe.observation.passive",
        description="Passive card (rest, R_in, τ_m, C_m, area at 1 µF/cm², sag) of "
                    "current-clamp recordings from their hyperpolarising pulses.")
    parser.add_argument("files", nargs="+", metavar="FILE", help=".abf or .nwb recordings")
    parser.add_argument("--sweeps", type=int, nargs="+", default=None,
                        help="sweep indices (0-based; default: every current-clamp sweep)")
    parser.add_argument("--pulses", action="store_true", help="also print every pulse")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of the cards (with every pulse) instead")
    args = parser.parse_args(argv)
    cards, failed = [], 0
    for name in args.files:
        try:
            card = passive_card(name, args.sweeps)
        except RecordingError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        cards.append(card)
        if not args.json:
            print(format_card(card, args.pulses))
    if args.json:
        print(json.dumps([card.to_dict() for card in cards], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
