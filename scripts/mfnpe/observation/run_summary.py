"""What a run found, said at its end: per recording of ``observations.csv`` its
misspecification verdict, its measure of fit (:mod:`mfnpe.observation.fit`: the worst
sweep's shares, and per sweep the shares within tolerance of the recorded spike count,
resting potential and AP peak) and where its figures are. Printed at the end of a run (the
Snakefile's ``onsuccess``) and written at the top of the HTML report (rule report_page).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mfnpe.observation.fit import recording_lines
from mfnpe.stimulus.sweeps import SWEEP_SEPARATOR

SWEEP_FEATURES = {"spike_count": "spikes", "rest_mean": "rest", "ap_peak": "AP peak"}
"""Features whose per-sweep share within tolerance (``fit_within_<feature>@sweep``) the
summary shows, with their label."""
NO_RECORDINGS = ("no recordings: observations/dir holds none and observations/examples is "
                 "empty, so there is no misspecification verdict and no measure of fit")
HEADING = ("Recordings: misspecification verdict; fit of the posterior predictive HF "
           "simulations (per model and sweep: {table})")


@dataclass(frozen=True)
class RecordingOutcome:
    """One recording's verdict and fit (``lines``: the first names the verdict, one per
    model shown), its per-sweep shares (``sweeps``: '' when the table has none) and its
    figure files that exist (``figures``, paths)."""

    name: str
    lines: list[str]
    sweeps: str
    figures: list[str]


@dataclass(frozen=True)
class RunOutcome:
    """What a run found: the table it read, the recordings configured and each
    recording's outcome (empty when the table does not exist)."""

    table: str
    configured: list[str]
    recordings: list[RecordingOutcome]

    def status(self) -> str | None:
        """Why there is nothing per recording, in words; None when there is."""
        if not self.configured:
            return NO_RECORDINGS
        if not Path(self.table).exists():
            return (f"{len(self.configured)} recording(s) configured, but {self.table} "
                    "does not exist yet: this run did not reach the observation stage "
                    "(run the default target)")
        if not self.recordings:
            return f"{self.table} holds no recording"
        return None


def _percent(text: str | None) -> str:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return "n/a"
    return f"{100 * value:.0f} %" if math.isfinite(value) else "n/a"


def sweep_shares(row: Mapping[str, str]) -> str:
    """``row``'s shares within tolerance per sweep for :data:`SWEEP_FEATURES` (those the
    table holds): 'sweep 2: spikes 34 %, rest 80 %; sweep 3: ...', or 'spikes 34 %, ...'
    under a single step; '' when it holds none."""
    sweeps: dict[str | None, list[str]] = {}
    for feature, label in SWEEP_FEATURES.items():
        pattern = re.compile(rf"fit_within_{feature}(?:{re.escape(SWEEP_SEPARATOR)}(\w+))?")
        for key, value in row.items():
            match = pattern.fullmatch(key or "")
            if match and value not in (None, ""):
                sweeps.setdefault(match.group(1), []).append(f"{label} {_percent(value)}")
    return "; ".join(", ".join(shares) if sweep is None else f"sweep {sweep}: "
                     + ", ".join(shares) for sweep, shares in sweeps.items())


def _shown_rows(path: Path) -> dict[str, dict]:
    """``{recording: row}`` of the model whose fit the summary shows: MF-NPE with a fit,
    else the first row with one (as :func:`mfnpe.observation.fit.console_lines`)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    shown: dict[str, dict] = {}
    for row in rows:
        if _percent(row.get("fit_spikes_worst")) == "n/a":
            continue
        name = row["recording"]
        if name not in shown or (row["method"] == "mf_npe"
                                 and shown[name]["method"] != "mf_npe"):
            shown[name] = row
    return shown


def run_outcome(table: str | Path, figures: Mapping[str, Sequence[str]]) -> RunOutcome:
    """What the run found, from ``observations.csv`` at ``table`` and ``figures``
    (``{recording: its figure files}``, every configured recording; those that exist are
    listed)."""
    path = Path(table)
    found = recording_lines(path)
    shown = _shown_rows(path) if path.exists() else {}
    recordings = [
        RecordingOutcome(name, lines, sweep_shares(shown.get(name, {})),
                         [str(f) for f in figures.get(name, []) if Path(f).exists()])
        for name, lines in found.items()]
    return RunOutcome(str(table), list(figures), recordings)


def console_text(outcome: RunOutcome) -> str:
    """A few lines for the console: the heading, then per recording its verdict and fit,
    its per-sweep shares and its figures, indented; or why there is nothing to say."""
    status = outcome.status()
    if status is not None:
        return f"Recordings: {status}.\n"
    text = HEADING.format(table=outcome.table) + ":\n"
    for found in outcome.recordings:
        text += "".join(f"  {line}\n" for line in found.lines)
        if found.sweeps:
            text += f"    within tolerance per sweep: {found.sweeps}\n"
        if found.figures:
            text += f"    figures: {', '.join(found.figures)} (SVG beside each)\n"
    return text


def report_text(outcome: RunOutcome) -> str:
    """The same as reStructuredText, for the top of the HTML report."""
    status = outcome.status()
    heading = "**What this run found.**"
    if status is not None:
        return f"{heading} Recordings: {status}.\n"
    text = (f"{heading} {HEADING.format(table=f'``{outcome.table}``')}:\n\n")
    for found in outcome.recordings:
        text += f"- {found.lines[0]}\n"
        for line in found.lines[1:]:
            text += f"\n  {line}\n"
        if found.sweeps:
            text += f"\n  Within tolerance per sweep: {found.sweeps}.\n"
        if found.figures:
            text += "\n  Figures: " + ", ".join(f"``{f}``" for f in found.figures) + ".\n"
        text += "\n"
    return text
