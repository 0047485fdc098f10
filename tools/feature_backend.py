"""eFEL or the numba kernels for the electrophysiology features: cost per trace and agreement.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python tools/feature_backend.py --n 5000

Simulates ``--n`` LF cells (``subunit_langevin``, dt 0.025 ms, the Pospischil RS cell at
draws of config/recording_171116sh_0019.yaml's prior) under two 700 ms sweeps of a recording-like
protocol (0 pA holding; a 500 ms step from 146.85 ms of +200 pA, and of -100 pA), so 2·n
traces, and times on one thread, per trace:

- ``simulate``: the LF simulator (for scale: what the features add to a pool);
- ``numba goncalves`` / ``numba ephys``: :func:`mfnpe.simulation.features.compute_features`
  with the set's names (first call, the JIT compile, excluded);
- ``efel``: eFEL's Python API (``efel.get_feature_values`` on the list of trace dicts, the
  threshold -10 mV, ``interp_step`` = dt so that it reads the samples as they are): on the
  step sweep the spike features (peak_voltage, AP_begin_voltage, AP_amplitude,
  AP_duration_half_width, min_between_peaks_values, adaptation_index, all_ISI_values,
  voltage_base), on the -100 pA sweep the passive ones (voltage_base, minimum_voltage,
  sag_ratio1, ohmic_input_resistance_vb_ssse, time_constant, and steady_state_voltage_stimend
  over our 20 % window, a second call).

Prints the times, their extrapolation to a pool of 10^5 cells (2·10^5 traces), and how
many traces' numba features equal eFEL's (relative 1e-6) where eFEL gives a value.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import yaml
from mfnpe.runtime import limit_threads, start_jax

ROOT = Path(__file__).resolve().parents[1]
DT = 0.025
SPIKE_EFEL = ["spike_count", "peak_voltage", "AP_begin_voltage", "AP_amplitude",
              "AP_duration_half_width", "min_between_peaks_values", "adaptation_index",
              "all_ISI_values", "voltage_base"]
PASSIVE_EFEL = ["voltage_base", "minimum_voltage", "sag_ratio1",
                "ohmic_input_resistance_vb_ssse", "time_constant"]
POOL = 100_000


def _efel_settings(efel, dt: float, **more) -> None:
    from mfnpe.simulation.features import SPIKE_THRESHOLD_MV

    efel.reset()
    for name, value in {"Threshold": SPIKE_THRESHOLD_MV, "strict_stiminterval": True,
                        "interp_step": dt,
                        **more}.items():
        efel.set_setting(name, value)


def efel_spikes(efel, v: np.ndarray, dt: float, t_on: float, t_off: float) -> list[dict]:
    """eFEL's spike features of traces ``v`` (n, T) in the window [t_on, t_off)."""
    _efel_settings(efel, dt)
    t = np.arange(v.shape[1]) * dt
    return efel.get_feature_values(
        [{"T": t, "V": trace, "stim_start": [t_on - dt / 2], "stim_end": [t_off - dt / 2]}
         for trace in v.astype(np.float64)], SPIKE_EFEL, raise_warnings=False)


def efel_passive(efel, v: np.ndarray, dt: float, epoch) -> list[dict]:
    """eFEL's passive features of traces ``v`` (n, T) on the ``epoch``
    (:class:`~mfnpe.stimulus.windows.PassiveEpoch`), plus ``steady_state_20``: eFEL's
    steady_state_voltage_stimend with stim_start moved so that its last 10 % are our 20 %."""
    start, end = epoch.start - dt / 2, epoch.end - dt / 2
    _efel_settings(efel, dt, voltage_base_start_perc=(epoch.baseline_start - dt / 2) / start,
                   voltage_base_end_perc=1.0)
    t = np.arange(v.shape[1]) * dt
    traces = v.astype(np.float64)
    found = efel.get_feature_values(
        [{"T": t, "V": trace, "stim_start": [start], "stim_end": [end],
          "stimulus_current": [epoch.current_pA / 1000.0]} for trace in traces],
        PASSIVE_EFEL, raise_warnings=False)
    moved = end - 2.0 * (epoch.end - epoch.start)
    steady = efel.get_feature_values(
        [{"T": t, "V": trace, "stim_start": [moved], "stim_end": [end]} for trace in traces],
        ["steady_state_voltage_stimend"], raise_warnings=False)
    efel.reset()
    for one, other in zip(found, steady):
        one["steady_state_20"] = other["steady_state_voltage_stimend"]
    return found


def _mean(values) -> float | None:
    return None if values is None or len(values) == 0 else float(np.mean(values))


def spike_oracle(found: dict, window_ms: float) -> dict[str, float | None]:
    """Our spike features as eFEL defines them (None: eFEL gives no value)."""
    count = int(found["spike_count"][0])
    if count == 0:
        return {"spike_count": 0.0}
    begin = _mean(found["AP_begin_voltage"])
    troughs = _mean(found["min_between_peaks_values"])
    isis = found["all_ISI_values"]
    adaptation = found["adaptation_index"]
    return {
        "spike_count": float(count),
        "ap_peak": _mean(found["peak_voltage"]),
        "ap_threshold": begin,
        "ap_amplitude": _mean(found["AP_amplitude"]),
        "ap_half_width": _mean(found["AP_duration_half_width"]),
        "ahp_depth": None if begin is None or troughs is None else begin - troughs,
        "adaptation_index": 0.0 if adaptation is None else float(adaptation[0]),
        "first_isi": window_ms if isis is None or len(isis) == 0 else float(isis[0]),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="cells (2 traces each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    limit_threads(1)
    start_jax()
    import efel
    from mfnpe.hh import langevin
    from mfnpe.hh.model import constants_table
    from mfnpe.stimulus.protocols import Epoch, Protocol
    from mfnpe.prior import BoxPrior
    from mfnpe.simulation import features
    from mfnpe.stimulus.windows import Windows, passive_epoch

    recording = yaml.safe_load((ROOT / "config/recording_171116sh_0019.yaml").read_text())
    prior = BoxPrior.from_config(recording["prior"])
    theta = prior.sample(args.n, np.random.default_rng(args.seed))
    constants = constants_table(recording["model"], theta, list(prior.names))
    seeds = np.arange(args.n, dtype=np.uint32)
    t_on, length = 146.85, 500.0
    sweeps = {}
    simulate_s = 0.0
    for name, amplitude in (("step", 200.0), ("hyper", -100.0)):
        protocol = Protocol(700.0, 0.0, (Epoch(t_on, length, amplitude),))
        langevin.simulate_subunit_langevin({k: v[:2] for k, v in constants.items()}, protocol,
                                           DT, seeds[:2])  # compile
        start = time.process_time()
        v = langevin.simulate_subunit_langevin(constants, protocol, DT, seeds).v
        simulate_s += time.process_time() - start
        epochs = [(e.start, e.duration, e.amplitude) for e in protocol.epochs]
        windows = Windows(t_on, t_on, t_on + length,
                          passive=passive_epoch(epochs, protocol.holding))
        valid = features.valid_traces(v)
        sweeps[name] = (v[valid], windows)
    n_traces = sum(v.shape[0] for v, _ in sweeps.values())
    print(f"{args.n} cells, {n_traces} valid traces of {sweeps['step'][0].shape[1]} samples "
          f"(dt {DT} ms), one thread")

    times = {"simulate": simulate_s}
    for set_name in ("goncalves", "ephys"):
        total = 0.0
        for name, (v, windows) in sweeps.items():
            features.compute_features(v[:2], DT, windows, set_name)  # compile
            start = time.process_time()
            features.compute_features(v, DT, windows, set_name)
            total += time.process_time() - start
            print(f"  numba {set_name} on the {name} sweep: "
                  f"{1000 * (time.process_time() - start) / v.shape[0]:.4f} ms per trace")
        times[f"numba {set_name}"] = total
    start = time.process_time()
    spikes = efel_spikes(efel, sweeps["step"][0], DT, t_on, t_on + length)
    times["efel spikes (step sweep)"] = time.process_time() - start
    start = time.process_time()
    passive = efel_passive(efel, sweeps["hyper"][0], DT, sweeps["hyper"][1].passive)
    times["efel passive (-100 pA sweep)"] = time.process_time() - start

    print(f"{'what':32s} {'ms per trace':>12s} {'s per 10^5 cells':>17s}")
    for what, seconds in times.items():
        per_trace = seconds / n_traces if "step" not in what and "pA" not in what \
            else seconds / sweeps["step" if "step" in what else "hyper"][0].shape[0]
        per_pool = per_trace * (2 if "step" not in what and "pA" not in what else 1) * POOL
        print(f"{what:32s} {1000 * per_trace:12.4f} {per_pool:17.0f}")
    efel_pool = (times["efel spikes (step sweep)"] / sweeps["step"][0].shape[0]
                 + times["efel passive (-100 pA sweep)"] / sweeps["hyper"][0].shape[0]) * POOL
    numba_pool = times["numba ephys"] / n_traces * 2 * POOL
    print(f"a pool of 10^5 cells (2 sweeps): eFEL {efel_pool:.0f} s, numba {numba_pool:.1f} s, "
          f"simulation {times['simulate'] / n_traces * 2 * POOL:.0f} s")

    names = ["spike_count", *features.EPHYS]
    ours = dict(zip(names, features.compute_features(sweeps["step"][0], DT, sweeps["step"][1],
                                                     names).T))
    agree, defined = {}, {}
    for i, found in enumerate(spikes):
        for feature, theirs in spike_oracle(found, length).items():
            if theirs is None:
                continue
            defined[feature] = defined.get(feature, 0) + 1
            if abs(ours[feature][i] - theirs) <= 1e-6 * max(1.0, abs(theirs)):
                agree[feature] = agree.get(feature, 0) + 1
    counts = ours["spike_count"]
    print(f"step sweep: {int((counts > 0).sum())} of {counts.size} traces spike, "
          f"{int((counts >= 4).sum())} at least 4 times")
    for feature, total in defined.items():
        print(f"  {feature:18s} equals eFEL's on {agree.get(feature, 0)} of {total} "
              "traces where eFEL gives a value")
    hyper = dict(zip(names, features.compute_features(sweeps["hyper"][0], DT,
                                                      sweeps["hyper"][1], names).T))
    epoch = sweeps["hyper"][1].passive
    resistance = [(f["steady_state_20"][0] - f["voltage_base"][0]) / (epoch.current_pA / 1000)
                  for f in passive]
    close = np.isclose(hyper["input_resistance"], resistance, rtol=1e-6, atol=1e-6)
    print(f"-100 pA sweep: input_resistance equals eFEL's (steady_state_20 − voltage_base) / ΔI "
          f"on {int(close.sum())} of {close.size}; eFEL time_constant gives no value on "
          f"{sum(f['time_constant'] is None for f in passive)} of {len(passive)}")


if __name__ == "__main__":
    main()
