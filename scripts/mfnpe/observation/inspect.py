"""What an ABF or NWB current-clamp file holds, before a config is written for it
(docs/recordings.md, "Inspect a file").

Per file, :func:`inspect_recording` gives a :class:`RecordingSummary`: per sweep
(:class:`SweepSummary`) the clamp mode, sampling rate, duration, holding current, epochs,
spikes and resting potential, and the file's passive card where a hyperpolarising epoch
exists. Everything comes from the library's own code: the readers and protocols
(``mfnpe.recordings.ephys``), the features' spike rule and windows
(``mfnpe.simulation.features``, ``mfnpe.stimulus.protocols.feature_windows``) and the
passive card (``mfnpe.observation.passive``). It sits in ``observation`` because the
passive card does; ``python -m mfnpe.recordings`` runs it too.

Command line::

    python -m mfnpe.recordings FILE... [--pulses] [--json]
    mfnpe-inspect FILE... [--pulses] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mfnpe.observation.passive import (NoHyperpolarisingEpochError, NoPassivePulseError,
                                       PassiveCard, format_card, passive_card)
from mfnpe.recordings.ephys import EphysFile, SweepInfo, open_ephys
from mfnpe.recordings.errors import RecordingError
from mfnpe.simulation.features import compute_features, spike_times
from mfnpe.stimulus.protocols import Epoch, feature_windows

SWEEP_FEATURES = ("spike_count", "rest_mean")
"""The features each sweep is summarised by, in its own windows (as the workflow's x)."""


@dataclass(frozen=True)
class SweepSummary:
    """One sweep of a file.

    Attributes
    ----------
    index : the sweep's index (0-based, what ``stimulus/sweeps`` chooses).
    sweep_number, name : the file's own number and name of the sweep.
    clamp : ``"current"``, ``"izero"`` or ``"voltage"``.
    rate_hz : sampling rate [Hz].
    duration_ms : sweep length [ms].
    holding_pA : holding current [pA]; None when the sweep cannot be read.
    epochs : the command's epochs (start [ms], duration [ms], amplitude [pA], absolute).
    spikes : spikes in the whole sweep (peaks above −10 mV, the features' rule).
    stimulus_window_ms : (start, end) [ms] of the features' stimulus window, the longest
        epoch; None without an epoch.
    spike_count : the ``spike_count`` feature: spikes in the stimulus window.
    rest_mV : the ``rest_mean`` feature: mean V before the first epoch [mV] (without an
        epoch: over the whole sweep).
    error : why the sweep cannot be read (then every field after ``duration_ms`` is
        None or empty), else None.
    """

    index: int
    sweep_number: int
    name: str
    clamp: str
    rate_hz: float
    duration_ms: float
    holding_pA: float | None = None
    epochs: tuple[Epoch, ...] = ()
    spikes: int | None = None
    stimulus_window_ms: tuple[float, float] | None = None
    spike_count: int | None = None
    rest_mV: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class RecordingSummary:
    """One file: its sweeps, the amplitudes sweeps can be chosen by, its passive card.

    Attributes
    ----------
    path : the file.
    sweeps : every sweep, in listing order.
    amplitudes_pA : the distinct epoch amplitudes [pA] ``stimulus/amplitudes_pA`` can
        choose (``EphysFile.amplitudes``).
    passive : the passive card of every readable current-clamp sweep, or None.
    passive_note : why there is no card (no hyperpolarising epoch, every pulse
        excluded), else None.
    """

    path: str
    sweeps: tuple[SweepSummary, ...]
    amplitudes_pA: tuple[float, ...]
    passive: PassiveCard | None
    passive_note: str | None


def summarise_sweep(ephys: EphysFile, info: SweepInfo) -> SweepSummary:
    """The :class:`SweepSummary` of sweep ``info`` of an open file; a sweep that cannot be
    read (voltage clamp, no command, too slow, …) gets the reader's message as ``error``."""
    head = (info.index, info.sweep_number, info.name, info.clamp, info.rate_hz,
            info.duration_ms)
    try:
        sweep = ephys.read(info.index)
    except RecordingError as err:
        return SweepSummary(*head, error=str(err))
    protocol = sweep.protocol
    spikes = len(spike_times(sweep.voltage, sweep.dt))
    if protocol.epochs:
        windows = feature_windows(protocol)
        count, rest = compute_features(sweep.voltage[None], sweep.dt, windows,
                                       list(SWEEP_FEATURES))[0]
        window = (float(windows.t_on), float(windows.t_off))
        count = int(count)
    else:  # the whole sweep is at the holding current
        window, count, rest = None, None, float(np.mean(sweep.voltage))
    return SweepSummary(*head, holding_pA=float(protocol.holding), epochs=protocol.epochs,
                        spikes=spikes, stimulus_window_ms=window, spike_count=count,
                        rest_mV=float(rest))


def inspect_recording(path) -> RecordingSummary:
    """The :class:`RecordingSummary` of an ABF or NWB file; raises the readers'
    :class:`RecordingError` (naming the file) when the file cannot be opened."""
    with open_ephys(path) as ephys:
        sweeps = tuple(summarise_sweep(ephys, info) for info in ephys.sweeps)
        amplitudes = ephys.amplitudes()
    readable = [s.index for s in sweeps if s.error is None and s.clamp != "voltage"]
    card, note = None, None
    if not readable:
        note = "no current-clamp sweep could be read"
    else:
        try:
            card = passive_card(path, readable)
        except NoHyperpolarisingEpochError:
            note = "no hyperpolarising epoch (a command below the holding current)"
        except NoPassivePulseError as err:
            note = str(err)
    return RecordingSummary(str(path), sweeps, amplitudes, card, note)


# ---------------------------------------------------------------------------- output

def _epoch_text(epoch: Epoch) -> str:
    return f"{epoch.amplitude:g} pA at {epoch.start:g} ms for {epoch.duration:g} ms"


def _or_dash(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def format_summary(summary: RecordingSummary, pulses: bool = False) -> str:
    """The summary as text: a line per sweep, then the passive card (``format_card``;
    with ``pulses`` one row per pulse)."""
    clamps = sorted({s.clamp for s in summary.sweeps})
    lines = [f"{summary.path}: {len(summary.sweeps)} sweep(s), {', '.join(clamps)} clamp",
             "  epoch amplitudes (stimulus/amplitudes_pA): "
             + (", ".join(f"{a:g}" for a in summary.amplitudes_pA) + " pA"
                if summary.amplitudes_pA else "none"),
             f"  {'sweep':>5} {'clamp':<7} {'kHz':>5} {'ms':>7} {'hold pA':>7} {'rest mV':>7} "
             f"{'spikes':>6} {'in window':>9}  {'window ms':<18} epochs"]
    for s in summary.sweeps:
        head = (f"  {s.index:>5} {s.clamp:<7} {s.rate_hz / 1000:>5g} {s.duration_ms:>7g}")
        if s.error is not None:
            lines.append(f"{head} not read: {s.error}")
            continue
        window = ("–" if s.stimulus_window_ms is None
                  else "[{:g}, {:g})".format(*s.stimulus_window_ms))
        epochs = "; ".join(_epoch_text(e) for e in s.epochs) or "none"
        lines.append(f"{head} {s.holding_pA:>7g} {s.rest_mV:>7.1f} {s.spikes:>6} "
                     f"{_or_dash(s.spike_count, 'd'):>9}  {window:<18} {epochs}")
    if summary.passive is not None:
        lines.append("  passive card: " + format_card(summary.passive, pulses))
    else:
        lines.append(f"  passive card: none: {summary.passive_note}")
    return "\n".join(lines)


def summary_to_json(summary: RecordingSummary) -> dict:
    """Plain data of the summary (units in the keys), for ``--json``."""
    sweeps = []
    for s in summary.sweeps:
        sweeps.append({
            "index": s.index, "sweep_number": s.sweep_number, "name": s.name,
            "clamp": s.clamp, "rate_hz": s.rate_hz, "duration_ms": s.duration_ms,
            "holding_pA": s.holding_pA,
            "epochs": [{"start_ms": e.start, "duration_ms": e.duration,
                        "amplitude_pA": e.amplitude} for e in s.epochs],
            "spikes": s.spikes,
            "stimulus_window_ms": (list(s.stimulus_window_ms)
                                   if s.stimulus_window_ms is not None else None),
            "spike_count": s.spike_count, "rest_mV": s.rest_mV, "error": s.error})
    return {"path": summary.path, "amplitudes_pA": list(summary.amplitudes_pA),
            "sweeps": sweeps,
            "passive_card": summary.passive.to_dict() if summary.passive is not None else None,
            "passive_note": summary.passive_note}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of every FILE; 1 when any file could not be read (its error on
    stderr and, with ``--json``, as ``{"path", "error"}``), else 0."""
    parser = argparse.ArgumentParser(
        prog="python -m mfnpe.recordings",
        description="What ABF or NWB current-clamp files hold: per sweep the clamp mode, "
                    "rate, duration, holding current, epochs, spikes and rest; the passive "
                    "card (R_in, τ_m, C_m, area, rest, sag) where a hyperpolarising epoch "
                    "exists.")
    parser.add_argument("files", nargs="+", metavar="FILE", help=".abf or .nwb recordings")
    parser.add_argument("--pulses", action="store_true",
                        help="also print every passive pulse (text output)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one per file")
    args = parser.parse_args(argv)
    as_json, failed = [], 0
    for name in args.files:
        try:
            summary = inspect_recording(name)
        except RecordingError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            as_json.append({"path": str(name), "error": str(err)})
            continue
        if args.json:
            as_json.append(summary_to_json(summary))
        else:
            print(format_summary(summary, args.pulses))
    if args.json:
        print(json.dumps(as_json, indent=1, ensure_ascii=False))
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
