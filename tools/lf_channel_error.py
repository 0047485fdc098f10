"""The approximate simulators' channel errors under voltage clamp, per channel type and count.

Usage: ``.venv/bin/python tools/lf_channel_error.py`` (about 2 min of CPU) measures
and rewrites the table module ``scripts/mfnpe/hh/clamp_error_table.py`` (what
:mod:`mfnpe.simulation.regimes` warns from) and the table of
docs/method.md, "Where the approximate simulators fail" (between its markers
``<!-- clamp-error:start -->`` and ``<!-- clamp-error:end -->``); ``--print`` only prints the markdown table, ``--quick``
measures with a quarter of the simulations (a smoke test, not for the table),
``--docs-only`` rewrites the docs table from the stored module without measuring.

For every approximate simulator (``deterministic``, ``current_noise``,
``subunit_langevin``, ``edge_langevin``), every neuron model and every channel type, at
channel counts N = 4 … 10 000 and at two clamp voltages (the default neuron's resting
potential and −50 mV), at the configs' dt 0.025 ms:

- the mean open fraction over the simulations and the time after a burn-in, relative to
  the exact chain's p = Π x∞^power (the stationary distribution of N independent
  channels is Binomial(N, p)/N; ``markov`` and ``binomial`` are exact there:
  tests/test_markov.py), with its standard error from the simulations' own means;
- the open fraction's SD over simulations and time relative to the exact √(p(1 − p)/N).

Every channel of the model gets the same count N in one simulation (the conductances are
set to 2 N / area at area 100 µm²; under a clamp they only set N). ``binomial`` is not
measured: given V each of its steps is distributed exactly as ``markov``'s.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TABLE_MODULE = ROOT / "scripts" / "mfnpe" / "hh" / "clamp_error_table.py"
METHOD = ROOT / "docs" / "method.md"
MARKERS = ("<!-- clamp-error:start -->", "<!-- clamp-error:end -->")

SIMULATORS = ("deterministic", "current_noise", "subunit_langevin", "edge_langevin")
NOISY = ("subunit_langevin", "edge_langevin")
MODEL_NAMES = ("classic", "pospischil_rs", "pospischil_fs")
COUNTS = (4, 10, 30, 100, 300, 1000, 3000, 10_000)
DT = 0.025  # ms, the configs' LF dt
AREA = 100.0  # µm²: the conductances are 2 N / AREA mS/cm²
RUNS = {  # model -> (simulations per count, duration, burn-in) [ms]
    "classic": (64, 300.0, 50.0),  # slowest gate (h, n) ~ 9 ms
    "pospischil_rs": (96, 2800.0, 800.0),  # M: tau 88 ms at rest, 165 ms at -50 mV
    "pospischil_fs": (96, 2800.0, 800.0),
}
NOISELESS_RUN = (1, 50.0, 10.0)  # deterministic, current_noise: no channel noise
SEED = 20_231


def voltages(model_name: str) -> dict[str, float]:
    """{label: clamp potential [mV]}: the default neuron's rest and −50 mV."""
    from mfnpe.hh.model import constants_table
    from mfnpe.hh.rest import resting_potential

    rest = float(resting_potential(constants_table({"name": model_name}))[0])
    return {"rest": round(rest, 2), "-50 mV": -50.0}


def open_probability(model_name: str, v: float) -> dict[str, float]:
    """{channel: exact stationary open probability Π x∞^power} at ``v`` [mV], defaults."""
    from mfnpe.hh.models import get_model

    model = get_model(model_name)
    kinetic = tuple(np.float64(model.defaults[name]) for name in model.kinetic)
    gates = model.steady_gates(np.float64(v), kinetic)
    return {c.name: float(np.prod([gates[g] ** k for g, k in c.gates])) for c in model.channels}


def measure(simulator: str, model_name: str, v: float, counts=COUNTS, runs=None,
            seed: int = SEED) -> dict[str, list[dict]]:
    """{channel: [{count, p, ratio, se, sd_ratio}, ...]} of ``simulator`` clamped at ``v``.

    ``runs`` (simulations per count, duration, burn-in [ms]); default :data:`RUNS` (noisy)
    or :data:`NOISELESS_RUN`. ``ratio`` is the mean open fraction over simulations and the
    time after the burn-in over p, ``se`` its standard error (from the simulations' means),
    ``sd_ratio`` the open fraction's SD (simulations and time pooled) over √(p(1 − p)/N).
    """
    from mfnpe.hh import langevin
    from mfnpe.hh.model import constants_table
    from mfnpe.hh.models import get_model
    from mfnpe.stimulus.step import Stimulus

    model = get_model(model_name)
    if runs is None:
        runs = RUNS[model_name] if simulator in NOISY else NOISELESS_RUN
    reps, duration, burn = runs
    simulate = getattr(langevin, f"simulate_{simulator}")
    options = {"sigma": 0.0} if simulator == "current_noise" else {}
    probability = open_probability(model_name, v)
    result = {c.name: [] for c in model.channels}
    for i, count in enumerate(counts):
        table = constants_table({"name": model_name, "area": AREA}, np.zeros((reps, 0)), ())
        for channel in model.channels:
            table[channel.conductance] = np.full(reps, 2.0 * count / AREA)
        seeds = (seed + 1000 * i + np.arange(reps)).astype(np.uint32)
        out = simulate(table, Stimulus(duration, 0.0, duration), DT, seeds, clamp_mV=v,
                       record_open=True, **options)
        start = round(burn / DT)
        for channel in model.channels:
            assert int(channel.channel_count(table[channel.conductance][0], AREA)) == count
            x = out.open[channel.name][:, start:].astype(np.float64)
            p = probability[channel.name]
            per_sim = x.mean(axis=1)
            se = per_sim.std(ddof=1) / np.sqrt(reps) if reps > 1 else 0.0
            result[channel.name].append({
                "count": int(count), "p": p, "ratio": float(per_sim.mean() / p),
                "se": float(se / p), "sd_ratio": float(x.std() / np.sqrt(p * (1 - p) / count)),
            })
    return result


def measure_all(scale: float = 1.0) -> list[tuple]:
    """Rows (simulator, model, channel, voltage label, v [mV], count, p, ratio, se,
    sd_ratio) of every simulator, model, voltage and count."""
    rows = []
    for simulator in SIMULATORS:
        for model_name in MODEL_NAMES:
            runs = RUNS[model_name] if simulator in NOISY else NOISELESS_RUN
            runs = (max(2, int(runs[0] * scale)), *runs[1:])
            for label, v in voltages(model_name).items():
                began = time.process_time()
                found = measure(simulator, model_name, v, COUNTS, runs)
                for channel, entries in found.items():
                    for e in entries:
                        rows.append((simulator, model_name, channel, label, v, e["count"],
                                     e["p"], e["ratio"], e["se"], e["sd_ratio"]))
                print(f"{simulator} {model_name} {label}: "
                      f"{time.process_time() - began:.1f} s CPU", file=sys.stderr, flush=True)
    return rows


def _cell(ratio: float, se: float, sd_ratio: float) -> str:
    if ratio >= 1000:
        mean = f"{ratio:.1e}".replace("e+0", "e").replace("e+", "e")
    else:
        mean = f"{ratio:.2f}" if se < 0.05 * ratio or ratio < 10 else f"{ratio:.0f}"
    sd = f"{sd_ratio:.2f}" if sd_ratio < 100 else f"{sd_ratio:.0f}"
    return f"{mean} ({sd})"


def markdown(rows: list[tuple], measured: str) -> str:
    """The docs table: one row per noisy simulator, model, channel and voltage; a cell per
    count, ``mean/p (SD/SD_exact)``; ``measured``: the date of the measurement."""
    header = ("| simulator | model | channel | clamp [mV] | p | "
              + " | ".join(f"N = {n}" for n in COUNTS) + " |")
    lines = [header, "|" + "---|" * (5 + len(COUNTS))]
    keyed = {}
    for sim, model, channel, label, v, count, p, ratio, se, sd in rows:
        keyed.setdefault((sim, model, channel, label, v, p), []).append((ratio, se, sd))
    for (sim, model, channel, label, v, p), cells in keyed.items():
        if sim not in NOISY:
            continue
        where = f"{v:g} (rest)" if label == "rest" else f"{v:g}"
        lines.append(f"| `{sim}` | {model} | {channel} | {where} | {p:.2g} | "
                     + " | ".join(_cell(*c) for c in cells) + " |")
    noiseless = [r for r in rows if r[0] not in NOISY]
    worst = max(abs(r[7] - 1.0) for r in noiseless)
    lines.append("")
    lines.append(f"`deterministic` and `current_noise` (no channel noise): mean/p within "
                 f"{worst:.0e} of 1 and SD 0 in every cell. "
                 f"`.venv/bin/python tools/lf_channel_error.py` ({measured}).")
    return "\n".join(lines)


def stored(rows: list[tuple]) -> list[tuple]:
    """``rows`` rounded as the table module stores them (p to 7 digits, the mean ratio to
    6, its SE to 3, the SD ratio to 4)."""
    return [(sim, model, channel, label, v, count, float(f"{p:.6e}"), float(f"{ratio:.6g}"),
             float(f"{se:.3g}"), float(f"{sd:.4g}"))
            for sim, model, channel, label, v, count, p, ratio, se, sd in rows]


def module_text(rows: list[tuple], measured: str) -> str:
    """The generated table module of :func:`stored` rows measured on ``measured``."""
    body = "\n".join(
        f"    ({sim!r}, {model!r}, {channel!r}, {label!r}, {v!r}, {count}, {p!r}, "
        f"{ratio!r}, {se!r}, {sd!r}),"
        for sim, model, channel, label, v, count, p, ratio, se, sd in rows)
    return f'''"""Measured channel errors of the approximate simulators under voltage clamp.

Written by ``tools/lf_channel_error.py``; do not edit by hand, rerun the tool. Read by
:mod:`mfnpe.simulation.regimes` (docs/method.md, "Where the approximate simulators fail").

Each row: simulator, neuron model, channel, clamp voltage label ("rest": the default
neuron's resting potential), clamp voltage [mV], channel count N, the exact stationary
open probability p (default kinetics), the simulator's mean open fraction / p, its
standard error (/ p), and its open-fraction SD / √(p(1 − p)/N). dt {DT} ms.
"""

MEASURED = {measured!r}
"""Date of the measurement."""

DT = {DT}
"""Time step [ms] of the measurement (the configs' LF dt)."""

COUNTS = {COUNTS!r}

ROWS = (
{body}
)
'''


def rewrite(path: Path, text: str) -> None:
    """Replace what lies between the clamp-error markers of ``path`` by ``text``."""
    content = path.read_text()
    start, end = MARKERS
    if start not in content or end not in content:
        raise SystemExit(f"{path}: markers {MARKERS} not found")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the simulations")
    parser.add_argument("--print", action="store_true",
                        help="print the markdown table; write nothing")
    parser.add_argument("--docs-only", action="store_true",
                        help="measure nothing: rewrite the docs table from the stored one")
    args = parser.parse_args()
    if args.docs_only:
        from mfnpe.hh import clamp_error_table

        rewrite(METHOD, markdown(list(clamp_error_table.ROWS), clamp_error_table.MEASURED))
        return
    rows = stored(measure_all(0.25 if args.quick else 1.0))
    measured = time.strftime("%Y-%m-%d")
    text = markdown(rows, measured)
    print(text)
    if not args.print and not args.quick:
        TABLE_MODULE.write_text(module_text(rows, measured))
        rewrite(METHOD, text)
        print(f"wrote {TABLE_MODULE.relative_to(ROOT)} and {METHOD.relative_to(ROOT)}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
