"""Simulator benchmark: ``python -m mfnpe.bench --schema SCHEMA --out FILE``.

SCHEMA is the config schema whose defaults make the default experiment (``make bench``
passes the workflow's; FILE is results/bench/simulators.json there).

Measures, on one thread and after JIT warm-up:

- LF models: neuron-steps per second of a whole shard run (simulation + features, traces
  discarded per batch), at the default LF dt;
- HF ``markov``: nanoseconds per channel event; ``markov`` and ``binomial``: seconds per
  120 ms simulation and per second of simulated time, at A = 100 µm² (the default
  experiment) and 1000 µm² (the cortical experiment's largest), one thread, the neuron at
  its defaults under the default 10 µA/cm² step;
- training: seconds per epoch per 10 000 simulations of the default network (3
  parameters, 10 features, batch 200), and seconds to draw 1000 posterior samples for each
  of 200 test observations (the evaluate rule's load);
- converged training: the default experiment's pretraining (its network and ``pretrain``
  settings, early stopping included) on 10⁴ and 10⁵ of its own LF simulations, run to
  its stop: epochs, seconds per epoch and seconds in all (``--converged`` sets the sizes);
- ``neuron_models``: the same LF and HF rows for every other neuron model
  (``mfnpe.hh.models``: the Pospischil RS and FS neurons), each row naming its ``neuron``
  (``lf`` and ``hf`` are the classic model's, in the format ``tools/bench_table.py`` reads).

The results go to a JSON file; ``tools/bench_table.py`` turns them into the table of
docs/results.md (``make bench`` runs both).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path

from mfnpe.names import LF_SIMULATORS
from mfnpe.runtime import limit_threads


def _config(simulator: dict, area: float, schema: Mapping, neuron: str = "classic") -> dict:
    from mfnpe.plan.config import validate_config

    config = {"simulators": {"lf": simulator, "hf": simulator}, "model": {"area": area}}
    if neuron != "classic":  # the default prior box is the classic model's: ±50% here
        from mfnpe.hh.model import model_defaults

        defaults = model_defaults(neuron)
        config["model"]["name"] = neuron
        config["prior"] = {k: [0.5 * defaults[k], 1.5 * defaults[k]] for k in ("gNa", "gK", "gL")}
    return validate_config(config, schema)


def _shard(config: dict, n: int, pool: str, threads: int):
    """Run ``n`` simulations of the config's ``pool`` simulator through the shard runner."""
    from mfnpe import seeds
    from mfnpe.plan import shards
    from mfnpe.simulation.shard import sample_prior_shard, simulate_shard

    prior_settings = {**shards.prior_settings(config, pool, 0), "shard_size": n}
    theta, names = sample_prior_shard(prior_settings)
    sim_seeds = seeds.simulation_seeds(config["seed"], pool, 0, n)
    return simulate_shard(theta, names, shards.experiment_simulation(config, pool), sim_seeds,
                          threads=threads, provenance=prior_settings)


def bench_lf(model: str, dt: float, n: int, threads: int, schema: Mapping,
             neuron: str = "classic") -> dict:
    """LF simulator ``model`` on the neuron model ``neuron`` (its defaults, 100 µm²)."""
    config = _config({"name": model, "dt": dt}, area=100.0, schema=schema, neuron=neuron)
    _shard(config, 500, "lf", threads)  # compile
    shard = _shard(config, n, "lf", threads)
    wall = shard.stats["wall_time_s"]
    return {
        "model": model, "dt_ms": dt, "n_simulations": n,
        "neuron_steps_per_s": shard.stats["neuron_steps"] / wall, "wall_s": wall,
    }


def bench_hf(method: str, area: float, n: int, neuron: str = "classic") -> dict:
    """The neuron model ``neuron`` (all constants at its defaults, 10 µA/cm² step) at
    ``area``."""
    import numpy as np

    from mfnpe.hh.model import constants_table
    from mfnpe.stimulus.step import Stimulus
    from mfnpe.simulation import simulators
    from mfnpe.simulation.experiment import SimulatorSettings

    simulate = simulators.batch_function(SimulatorSettings(method, 0.01))
    fixed = {"area": area} if neuron == "classic" else {"name": neuron, "area": area}
    constants = constants_table(fixed, np.zeros((n, 0)), ())
    seeds = np.arange(n, dtype=np.uint32)
    stimulus = Stimulus()
    simulate({k: v[:1] for k, v in constants.items()}, stimulus, seeds=seeds[:1])  # compile
    start = time.perf_counter()
    out = simulate(constants, stimulus, seeds=seeds)
    wall = time.perf_counter() - start
    result = {"method": method, "area_um2": area, "n_simulations": n, "s_per_simulation": wall / n,
              "s_per_simulated_s": wall / n / (stimulus.duration / 1000.0), "wall_s": wall}
    if out.n_events is not None:
        result["events_per_simulation"] = float(out.n_events.mean())
        result["ns_per_event"] = 1e9 * wall / float(out.n_events.sum())
    return result


def bench_training(n: int = 10_000, epochs: int = 5, n_test: int = 200) -> dict:
    """Default network and training settings on synthetic data of the default shape."""
    import numpy as np
    import torch

    from mfnpe.inference import BoxPrior, NetworkSettings, TrainingSettings, train_npe

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    prior = BoxPrior(("gNa", "gK", "gL"), [50.0, 20.0, 0.1], [200.0, 100.0, 1.0])
    theta = prior.sample(n, rng)
    x = (theta / prior.high) @ rng.normal(size=(3, 10)) + 0.1 * rng.normal(size=(n, 10))
    training = TrainingSettings(max_epochs=epochs - 1, stop_after_epochs=epochs + 1)
    posterior = train_npe(theta, x, prior, NetworkSettings(), training, seed=0)
    per_epoch = float(np.median(posterior.history["epoch_durations_sec"]))
    start = time.perf_counter()
    posterior.sample(x[:n_test], 1000, seed=0)
    return {"n_simulations": n, "s_per_epoch_per_10k": per_epoch * 10_000 / n,
            "n_test": n_test, "s_sampling_1000_per_test": time.perf_counter() - start}


def bench_converged_training(n: int, threads: int, schema: Mapping) -> dict:
    """The default experiment's LF pretraining (its network and ``pretrain`` settings) on
    ``n`` simulations of its prior and LF simulator (one shard of ``n`` with the LF pool's
    shard-0 seeds; valid rows), from initial weights to early stopping, one torch thread;
    ``threads`` simulate."""
    import numpy as np
    import torch

    from mfnpe.inference import BoxPrior, NetworkSettings, TrainingSettings, train_npe
    from mfnpe.plan.config import validate_config
    from mfnpe.plan.runs import model_settings

    torch.set_num_threads(1)
    config = validate_config({}, schema)
    settings = model_settings(config, "lf_npe", n, 0, 0)
    shard = _shard(config, n, "lf", threads)
    theta, x = shard.theta[shard.valid], shard.x[shard.valid]
    training = TrainingSettings.from_dict(settings["training"])
    start = time.perf_counter()
    posterior = train_npe(theta, x, BoxPrior.from_config(settings["data"]["prior"]),
                          NetworkSettings.from_dict(settings["network"]), training, seed=0,
                          feature_names=shard.feature_names)
    wall = time.perf_counter() - start
    epochs = len(posterior.history["epoch_durations_sec"])
    return {"n_simulations": n, "n_valid": int(len(theta)), "batch_size": training.batch_size,
            "learning_rate": training.learning_rate, "epochs": epochs,
            "s_per_epoch": float(np.median(posterior.history["epoch_durations_sec"])),
            "s_training": wall, "best_validation_loss": float(
                np.min(posterior.history["validation_loss"]))}


CONVERGED_SIZES = (10_000, 100_000)
"""LF simulations of :func:`bench_converged_training`'s rows."""


HF_AREAS_UM2 = (100.0, 1000.0)
"""Areas of the HF rows: the default experiment's and the cortical experiment's largest."""


def bench_hf_rows(n_markov: int, n_binomial: int, neuron: str = "classic") -> list[dict]:
    """:func:`bench_hf` of ``markov`` and ``binomial`` at every area of :data:`HF_AREAS_UM2`."""
    return [bench_hf(method, area, n, neuron) for method, n in (("markov", n_markov),
                                                                ("binomial", n_binomial))
            for area in HF_AREAS_UM2]


def bench_neurons(n_lf: int, n_markov: int, n_binomial: int, threads: int,
                  neurons: tuple[str, ...], schema: Mapping) -> list[dict]:
    """The LF and HF rows of :func:`run` for each neuron model in ``neurons``."""
    rows = []
    for neuron in neurons:
        rows += [{"neuron": neuron, "fidelity": "lf",
                  **bench_lf(model, 0.025, n_lf, threads, schema, neuron)}
                 for model in LF_SIMULATORS]
        rows += [{"neuron": neuron, "fidelity": "hf", **row}
                 for row in bench_hf_rows(n_markov, n_binomial, neuron)]
    return rows


def run(n_lf: int, n_markov: int, n_binomial: int, threads: int, schema: Mapping,
        converged: tuple[int, ...] = CONVERGED_SIZES) -> dict:
    from mfnpe.hh.models import DEFAULT_MODEL, MODELS

    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "threads": threads},
        "lf": [bench_lf(model, 0.025, n_lf, threads, schema) for model in LF_SIMULATORS],
        "hf": bench_hf_rows(n_markov, n_binomial),
        "training": bench_training(),
        "converged_training": [bench_converged_training(n, threads, schema) for n in converged],
        "neuron_models": bench_neurons(n_lf, n_markov, n_binomial, threads,
                                       tuple(name for name in MODELS if name != DEFAULT_MODEL), schema),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, required=True,
                        help="the workflow's config schema (its defaults: the default experiment)")
    parser.add_argument("--out", type=Path, default=Path("results/bench/simulators.json"))
    parser.add_argument("--n-lf", type=int, default=4000, help="LF simulations per model")
    parser.add_argument("--n-markov", type=int, default=10)
    parser.add_argument("--n-binomial", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--converged", type=int, nargs="*", default=list(CONVERGED_SIZES),
                        help="LF simulations of each pretraining run to its stop (none: skip)")
    args = parser.parse_args()
    limit_threads(args.threads)
    from mfnpe.plan.config import load_schema

    results = run(args.n_lf, args.n_markov, args.n_binomial, args.threads,
                  load_schema(args.schema), tuple(args.converged))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"benchmark results: {args.out}")


if __name__ == "__main__":
    main()
