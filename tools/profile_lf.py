"""Where an LF simulator's time goes: noise generation, the rest of the time loop, features.

    OMP_NUM_THREADS=1 .venv/bin/python tools/profile_lf.py [--neuron classic] [--n 4000]

For each JAX simulator, on one thread, the default 120 ms step at dt 0.025 ms and 100 µm²
(``mfnpe.bench``'s LF setting), batches of 500 as the shard runner makes them:

- ``shard``: the whole shard run (simulation and features), as ``make bench`` times it;
- ``simulate``: the simulator alone;
- ``normals``: its normals alone (:func:`mfnpe.hh.threefry.chunk_normal_pairs`, the same
  count per step, jitted, the result reduced so that XLA cannot drop it);

and prints each as seconds and as a share of ``shard``. The time loop's own work (rates,
channel update, membrane) is ``simulate`` less ``normals``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from mfnpe.runtime import limit_threads, start_jax

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neuron", default="classic")
    parser.add_argument("--n", type=int, default=4000)
    args = parser.parse_args(argv)
    limit_threads(1)
    start_jax()
    import jax
    import jax.numpy as jnp

    from mfnpe.bench import _config, _shard
    from mfnpe.hh import langevin
    from mfnpe.hh.model import constants_table
    from mfnpe.hh.models import get_model
    from mfnpe.stimulus.step import Stimulus
    from mfnpe.hh.threefry import chunk_normal_pairs
    from mfnpe.names import LF_SIMULATORS

    from mfnpe.plan.config import load_schema

    schema = load_schema(SCHEMA_PATH)
    dt, batch, stimulus = 0.025, 500, Stimulus()
    n_steps = stimulus.n_steps(dt)
    fixed = {"area": 100.0} if args.neuron == "classic" else {"name": args.neuron, "area": 100.0}
    constants = constants_table(fixed, np.zeros((batch, 0)), ())
    cell = get_model(args.neuron)
    print(f"{args.neuron}, {args.n} simulations of {n_steps} steps, one thread")
    print("simulator shard_s simulate_s normals_s normals_per_step "
          "share_normals share_loop share_features M_steps_per_s")
    for name in LF_SIMULATORS:
        spec = langevin._MODELS[name]
        n_noise = spec.n_channel_noise(cell) + int(spec.voltage_noise)
        config = _config({"name": name, "dt": dt}, area=100.0, schema=schema, neuron=args.neuron)
        _shard(config, batch, "lf", 1)  # compile
        shard_s = _shard(config, args.n, "lf", 1).stats["wall_time_s"]
        simulate = getattr(langevin, f"simulate_{name}")
        options = {"sigma": 0.0} if name == "current_noise" else {}
        seeds = np.arange(batch, dtype=np.uint32)
        simulate(constants, stimulus, dt, seeds, **options)  # compile
        start = time.perf_counter()
        for k in range(args.n // batch):
            simulate(constants, stimulus, dt, seeds + k * batch, **options)
        simulate_s = time.perf_counter() - start
        normals_s = 0.0
        if n_noise:
            chunk = langevin.NOISE_CHUNK

            @jax.jit
            def draw(s, chunk=chunk, n_noise=n_noise):
                def body(total, c):
                    pairs = chunk_normal_pairs(s, c * chunk, chunk, -(-n_noise // 2))
                    return total + sum(jnp.sum(part) for part in pairs), None
                chunks = jnp.arange(-(-n_steps // chunk), dtype=jnp.uint32)
                return jax.lax.scan(body, jnp.float32(0.0), chunks)[0]

            draw(jnp.asarray(seeds)).block_until_ready()  # compile
            start = time.perf_counter()
            for k in range(args.n // batch):
                draw(jnp.asarray(seeds + k * batch)).block_until_ready()
            normals_s = time.perf_counter() - start
        print(f"{name} {shard_s:.2f} {simulate_s:.2f} {normals_s:.2f} {n_noise} "
              f"{normals_s / shard_s:.2f} {(simulate_s - normals_s) / shard_s:.2f} "
              f"{(shard_s - simulate_s) / shard_s:.2f} "
              f"{args.n * n_steps / shard_s / 1e6:.1f}", flush=True)


if __name__ == "__main__":
    main()
