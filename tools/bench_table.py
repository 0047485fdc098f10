"""Rewrite the benchmark table of docs/results.md from ``make bench``'s JSON.

    python tools/bench_table.py results/bench/simulators.json docs/results.md

The table sits between the markers ``<!-- bench:start -->`` and ``<!-- bench:end -->``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


def _lf_row(neuron: str, r: dict) -> str:
    return (f"| {neuron} | `{r['model']}` (LF) | dt {r['dt_ms']} ms, {r['n_simulations']} sims, "
            f"features computed | {r['neuron_steps_per_s'] / 1e6:.1f} M neuron-steps/s |")


def _hf_row(neuron: str, r: dict) -> str:
    measured = f"{r['s_per_simulation']:.3f} s per 120 ms simulation"
    if "s_per_simulated_s" in r:
        measured += f", {r['s_per_simulated_s']:.2f} s per simulated s"
    if "ns_per_event" in r:
        measured = (f"{r['ns_per_event']:.0f} ns per event, {measured} "
                    f"({r['events_per_simulation'] / 1e6:.2f} M events)")
    return f"| {neuron} | `{r['method']}` (HF) | A = {r['area_um2']:.0f} µm², dt 0.01 ms | {measured} |"


def table(results: dict) -> str:
    """The benchmark table (markdown) of ``mfnpe.bench`` results: the classic model's rows
    (``lf``, ``hf``), then every other neuron model's (``neuron_models``)."""
    lines = ["| neuron | simulator | setting | measured |", "|---|---|---|---|"]
    lines += [_lf_row("classic", r) for r in results["lf"]]
    lines += [_hf_row("classic", r) for r in results["hf"]]
    for r in results.get("neuron_models", []):
        lines.append((_lf_row if r["fidelity"] == "lf" else _hf_row)(r["neuron"], r))
    t = results["training"]
    lines.append(f"| | training (default NSF) | {t['n_simulations']} simulations, batch 200 "
                 f"| {t['s_per_epoch_per_10k']:.2f} s per epoch per 10k simulations |")
    lines.append(f"| | posterior draws (default NSF) | 1000 draws for each of {t['n_test']} "
                 f"test observations | {t['s_sampling_1000_per_test']:.1f} s |")
    for c in results.get("converged_training", []):
        lines.append(f"| | pretraining to its stop (default experiment) | {c['n_simulations']} "
                     f"LF simulations, batch {c['batch_size']}, lr {c['learning_rate']:g} | "
                     f"{c['epochs']} epochs, {c['s_per_epoch']:.2f} s per epoch, "
                     f"{c['s_training']:.0f} s in all |")
    lines.append(f"\nOne thread; {results['machine']['platform']}; `make bench` "
                 f"({time.strftime('%Y-%m-%d')}).")
    return "\n".join(lines)



def rewrite(path: Path, text: str) -> None:
    """Replace what lies between the bench markers of ``path`` by ``text``."""
    content = path.read_text()
    start, end = MARKERS
    if start not in content or end not in content:
        raise SystemExit(f"{path}: benchmark markers {MARKERS} not found")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", content))


if __name__ == "__main__":
    results_path, doc = (Path(arg) for arg in sys.argv[1:3])
    markdown = table(json.loads(results_path.read_text()))
    rewrite(doc, markdown)
    print(markdown)
