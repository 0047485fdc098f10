"""edge_langevin against the exact Markov chain as a function of the channel count.

Usage: ``.venv/bin/python tools/edge_langevin_error.py [--quick]`` (about 3 min on one core;
prints the markdown table of docs/method.md, "Where edge_langevin fails").

At the default neuron (gNa 120, gK 36, gL 0.3 mS/cm²; rest −65.0 mV) and each area:

- Na open fraction at rest under a clamp at the resting potential, mean over 10–40 ms and
  the simulations, relative to m∞³h∞ (which ``markov`` matches: tests/test_markov.py);
- spontaneous spikes (peaks above −10 mV) per second without any current, ``markov`` at
  its dt 0.01 ms and ``edge_langevin`` at its dt 0.025 ms (the config defaults).
"""

from __future__ import annotations

import argparse

import numpy as np
from mfnpe.hh import langevin, markov
from mfnpe.hh.kinetics import NA_OPEN, channel_counts, na_state_probs
from mfnpe.hh.model import constants_table
from mfnpe.hh.rest import resting_potential
from mfnpe.stimulus.step import Stimulus
from mfnpe.simulation.features import spike_times

AREAS = (10.0, 30.0, 100.0, 300.0, 1000.0)  # µm²
MARKOV_RUNS = {10.0: (40, 1000.0), 30.0: (40, 1000.0), 100.0: (20, 1000.0),
               300.0: (10, 500.0), 1000.0: (4, 500.0)}  # simulations, ms (spike rates)
EDGE_RUNS = (500, 1000.0)


def _table(n: int, area: float, amplitude: float = 0.0) -> dict:
    return constants_table({"area": area, "amplitude": amplitude}, np.zeros((n, 0)), ())


def open_fraction_ratio(simulate, area: float, n: int, dt: float, v_rest: float) -> float:
    """Mean Na open fraction / m∞³h∞ under a clamp at ``v_rest``, over 10–40 ms."""
    out = simulate(_table(n, area), Stimulus(40.0, 0.0, 40.0), dt,
                   np.arange(n, dtype=np.uint32), clamp_mV=v_rest, record_open=True)
    p = na_state_probs(v_rest)[NA_OPEN]
    return float(out.open_na[:, round(10.0 / dt):].astype(np.float64).mean() / p)


def spike_rate(simulate, area: float, n: int, duration: float, dt: float) -> tuple[float, int]:
    """(spikes per second, spike count) of ``n`` simulations of ``duration`` ms, no current."""
    out = simulate(_table(n, area), Stimulus(duration, 0.0, duration), dt,
                   np.arange(n, dtype=np.uint32) + 10_000)
    count = sum(len(spike_times(trace, dt)) for trace in out.v)
    return 1000.0 * count / (n * duration), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the simulations")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    v_rest = float(resting_potential(_table(1, 100.0))[0])
    print("| area [µm²] | N_Na, N_K | N_Na · p_open at rest | Na open mean / theory: "
          "markov | edge_langevin | spikes/s without input: markov | edge_langevin |")
    print("|---|---|---|---|---|---|---|")
    for area in AREAS:
        n_na, n_k = (int(x) for x in channel_counts(120.0, 36.0, area))
        p = na_state_probs(v_rest)[NA_OPEN]
        n_markov, t_markov = MARKOV_RUNS[area]
        n_markov = max(2, int(n_markov * scale))
        mk_open = open_fraction_ratio(markov.simulate_markov, area, n_markov, 0.01, v_rest)
        edge_open = open_fraction_ratio(langevin.simulate_edge_langevin, area,
                                        max(32, int(EDGE_RUNS[0] * scale)), 0.025, v_rest)
        mk_rate, mk_count = spike_rate(markov.simulate_markov, area, n_markov, t_markov, 0.01)
        edge_rate, edge_count = spike_rate(langevin.simulate_edge_langevin, area,
                                           max(32, int(EDGE_RUNS[0] * scale)), EDGE_RUNS[1], 0.025)
        print(f"| {area:g} | {n_na}, {n_k} | {n_na * p:.2f} | {mk_open:.3f} | {edge_open:.3f} | "
              f"{mk_rate:.2f} ({mk_count}) | {edge_rate:.2f} ({edge_count}) |", flush=True)


if __name__ == "__main__":
    main()
