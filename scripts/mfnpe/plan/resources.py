"""What a simulate job needs, from the config: memory [MB] and wall time [min] scaled from
measured per-unit costs with the simulated time of one simulation (the step's duration,
or every chosen sweep of a recording), the shard size and the batch a simulator holds in
memory; and the ceiling beyond which a config is refused before any job.

Light on purpose (no numpy): ``workflow/rules/common.smk`` and ``mfnpe.plan.config`` use it.

Measured on one thread (peak RSS and wall time of ``mfnpe.simulation.shard.simulate_shard``;
the simulator speeds are the ``make bench`` table of docs/results.md, "Performance"):

- a shard of the default config's 120 ms simulations peaks at :data:`BASE_MB` (benchmark
  max_rss of the workflow's simulate jobs: 467 MB JAX LF, 184 MB numba HF);
- a simulator holds the whole voltage trace of every simulation of the batch it runs
  (:data:`BATCH`) at its dt, so the peak grows by :data:`BYTES_PER_STEP` per step and
  simulation of the batch: ``edge_langevin`` with 500 simulations of 120, 1200 and
  6000 ms peaked at 473, 636 and 1460 MB (8.4 bytes per step), ``binomial`` with 8 of
  120 and 24 000 ms at 217 and 382 MB (8.6), ``markov`` with 1 of 120 and 24 000 ms at
  217 and 256 MB (16);
- kept traces (``traces.pools``) add :data:`TRACE_BYTES` per stored sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mfnpe.names import FIDELITY, MARKOV_SIMULATORS

BATCH = {"markov": 1, "binomial": 8}
"""Simulations a numba simulator runs per call; every other (JAX) simulator runs
:data:`JAX_BATCH`, padded (``mfnpe.simulation.simulators.REGISTRY``; tests check)."""
JAX_BATCH = 500
BASE_MB = {"jax": 467.0, "numba": 184.0}
"""Peak memory [MB] of a simulate job of the default config's 120 ms simulations."""
BYTES_PER_STEP = {"jax": 9.0, "binomial": 9.0, "markov": 17.0}
"""Memory per simulator step of each simulation in the batch in flight [bytes]."""
TRACE_BYTES = 16.0
"""Memory per kept trace sample [bytes]: float64, and the copy that joins the batches."""
STEPS_PER_S = {"deterministic": 14.9e6, "current_noise": 12.2e6, "subunit_langevin": 6.8e6,
               "edge_langevin": 3.5e6}
"""Neuron-steps per second of the JAX simulators on one thread (the slowest neuron model
of the bench table)."""
MARKOV_S_PER_S_PER_UM2 = 8.4e-3
"""``markov`` [s per simulated s per µm² of membrane]: its events grow with the channel
numbers, so with the area (bench: 0.77–0.86 s per simulated s at 100 µm², 8.1–8.4 at
1000 µm²); never below :data:`MARKOV_MIN_S_PER_S`."""
MARKOV_MIN_S_PER_S = 0.86
BINOMIAL_S_PER_S = (0.40, 0.20)
"""``binomial`` [s per simulated s]: ``a + b · log10(area / 100 µm²)`` for areas ≥ 100 µm²
(bench: 0.29–0.40 at 100 µm², 0.43–0.60 at 1000 µm²: a draw per transition and step, whatever
the channel number)."""
STARTUP_S = 60.0
"""Start of a simulate job [s]: imports and JIT compilation."""
MARGIN = 3.0
"""Requests are this many times the estimate (the estimates hold for the neuron at its
defaults; a prior's cells may fire more, and a machine may be slower)."""
FLOOR_MB = {"lf": 1500, "hf": 600}
FLOOR_MIN = {"lf": 60, "hf": 120}
"""The smallest requests [MB, min]: the fixed values before they scaled (3x the measured
peaks of the default config; generous wall times)."""
MAX_SIMULATE_PEAK_MB = 16_000
"""The ceiling [MB] of a simulate job's estimated peak memory: a config beyond it is
refused at startup (``mfnpe.plan.config``). The traces of a batch are held whole, so the
peak grows with the simulated time: at the default LF simulator (batches of 500, dt
0.025 ms) 16 000 MB is about 90 s of simulated time per simulation. The request would be
:data:`MARGIN` times that, more than a workstation or a common cluster node gives a job."""


def simulator(config: Mapping, pool: str) -> dict:
    """The ``simulators`` section of the fidelity that fills ``pool``."""
    return config["simulators"][FIDELITY[pool]]


def batch_size(name: str) -> int:
    """Simulations simulator ``name`` holds in memory per call."""
    return BATCH.get(name, JAX_BATCH)


def simulated_ms(config: Mapping) -> float | None:
    """Simulated time of one simulation [ms]: the step's ``duration``, or the sum of a
    recording's chosen sweeps' (window) durations once its protocols are read (None
    before: ``mfnpe.plan.config.resolve_recording``)."""
    stimulus = config["stimulus"]
    if stimulus.get("recording") is None and "protocols" not in stimulus:
        return float(stimulus["duration"])
    protocols = stimulus.get("protocols")
    if protocols is None:
        return None
    return float(sum(protocol["duration"] for protocol in protocols))


def _largest(config: Mapping, name: str) -> float:
    """The largest value of constant ``name``: its prior's high bound, else its fixed value."""
    bounds = config["prior"].get(name)
    if bounds is None:
        return float(config["model"][name])
    return float(bounds["high"] if isinstance(bounds, Mapping) else bounds[1])


def simulate_parts_mb(config: Mapping, pool: str, threads: int = 1) -> dict[str, float]:
    """Estimated peak memory [MB] of a simulate job of ``pool``, by part: ``base`` (the
    default shard), ``batch`` (the traces of the batches in flight, ``threads`` at once) and
    ``kept`` (the shard's stored traces)."""
    settings = simulator(config, pool)
    name, dt = settings["name"], settings["dt"]
    backend = "numba" if name in MARKOV_SIMULATORS else "jax"
    length = simulated_ms(config) or 0.0
    steps = length / dt
    per_step = BYTES_PER_STEP.get(name, BYTES_PER_STEP["jax"])
    batch = per_step * batch_size(name) * max(int(threads), 1) * steps / 1e6
    kept = 0.0
    if pool in config["traces"]["pools"]:
        kept = TRACE_BYTES * config["shards"][pool] * length / config["traces"]["dt"] / 1e6
    return {"base": BASE_MB[backend], "batch": batch, "kept": kept}


def simulate_peak_mb(config: Mapping, pool: str, threads: int = 1) -> float:
    """Estimated peak memory [MB] of a simulate job of ``pool`` (:func:`simulate_parts_mb`)."""
    return sum(simulate_parts_mb(config, pool, threads).values())


def seconds_per_simulated_s(config: Mapping, pool: str) -> float:
    """CPU seconds per simulated second of one simulation of ``pool`` on one thread."""
    settings = simulator(config, pool)
    name = settings["name"]
    if name == "markov":
        return max(MARKOV_MIN_S_PER_S, MARKOV_S_PER_S_PER_UM2 * _largest(config, "area"))
    if name == "binomial":
        a, b = BINOMIAL_S_PER_S
        return a + b * math.log10(max(_largest(config, "area"), 100.0) / 100.0)
    return 1000.0 / settings["dt"] / STEPS_PER_S.get(name, min(STEPS_PER_S.values()))


def simulate_minutes(config: Mapping, pool: str) -> float:
    """Estimated wall time [min] of a simulate job of ``pool`` (a full shard, one thread)."""
    length_s = (simulated_ms(config) or 0.0) / 1000.0
    work = config["shards"][pool] * length_s * seconds_per_simulated_s(config, pool)
    return (STARTUP_S + work) / 60.0


def simulate_mem_mb(config: Mapping, pool: str, threads: int = 1) -> int:
    """Memory a simulate job of ``pool`` asks for on its first attempt [MB]: :data:`MARGIN`
    times the estimated peak, at least :data:`FLOOR_MB`."""
    floor = FLOOR_MB[FIDELITY[pool]]
    return max(floor, math.ceil(MARGIN * simulate_peak_mb(config, pool, threads)))


def simulate_runtime(config: Mapping, pool: str) -> int:
    """Wall-time limit of a simulate job of ``pool`` [min]: :data:`MARGIN` times the
    estimate, at least :data:`FLOOR_MIN`."""
    floor = FLOOR_MIN[FIDELITY[pool]]
    return max(floor, math.ceil(MARGIN * simulate_minutes(config, pool)))


def memory_fault(config: Mapping, key: str) -> str | None:
    """Why a simulate job of the config would exceed :data:`MAX_SIMULATE_PEAK_MB` (one
    thread), as ``config key <key>: ...``, naming ``key`` (the stimulus key that sets the
    simulated time) or ``shards/<pool>`` when the kept traces dominate; None if none would."""
    length = simulated_ms(config)
    if length is None:
        return None
    for pool in FIDELITY:
        parts = simulate_parts_mb(config, pool)
        peak = sum(parts.values())
        if peak <= MAX_SIMULATE_PEAK_MB:
            continue
        settings = simulator(config, pool)
        at = f"shards/{pool}={config['shards'][pool]}" if parts["kept"] > parts["batch"] else key
        return (
            f"config key {at}: a simulate job of pool {pool} would need about {peak:,.0f} MB "
            f"(estimated; {parts['batch']:,.0f} MB for the voltage traces of a batch of "
            f"{batch_size(settings['name'])} {settings['name']} simulations of {length:g} ms "
            f"at dt {settings['dt']:g} ms, held whole, and {parts['kept']:,.0f} MB for the "
            f"shard's kept traces), more than the ceiling of {MAX_SIMULATE_PEAK_MB:,} MB "
            "(mfnpe.plan.resources.MAX_SIMULATE_PEAK_MB); shorten the simulated time "
            "(stimulus/duration, or a recording's stimulus/window_ms or sweeps)"
            + (f" or the shards (shards/{pool})" if parts["kept"] else ""))
    return None
