"""Seconds per HF simulation of the Pospischil RS cell by area (markov, binomial): the cost
that sets the cortical experiment's area.

    OMP_NUM_THREADS=1 .venv/bin/python tools/cortical_cost.py
"""
import time

import numpy as np
from mfnpe.hh import markov
from mfnpe.hh.model import constants_table
from mfnpe.stimulus.step import Stimulus
from mfnpe.simulation.features import compute_features

stim = Stimulus(duration=300.0, t_on=50.0, t_off=250.0)
for area in (100.0, 1000.0, 5000.0):
    c = constants_table({"name": "pospischil_rs", "area": area, "amplitude": 2.0}, np.zeros((2, 0)))
    for name in ("binomial", "markov"):
        f = getattr(markov, "simulate_" + name)
        f({k: v[:1] for k, v in c.items()}, Stimulus(1.0, 0.0, 1.0), 0.01, np.zeros(1, np.uint32))
        t = time.perf_counter(); o = f(c, stim, 0.01, np.arange(2, dtype=np.uint32)); w = (time.perf_counter() - t) / 2
        sc = compute_features(o.v, 0.01, stim, ["spike_count"])[:, 0]
        ev = "" if o.n_events is None else f"{o.n_events.mean()/0.3:.3g} events/s-sim, {1e9*w/o.n_events.mean():.0f} ns/event"
        print(f"RS area {area:g} {name}: {w:.3f} s per 300 ms ({w/0.3:.2f} s per simulated s) spikes {sc} {ev}", flush=True)
