"""LF simulator speed against an earlier commit, in one process (a ratio a loaded machine
does not spoil as it does absolute rates).

    OMP_NUM_THREADS=1 .venv/bin/python tools/lf_speed_against.py e65e1bf \\
        [--n 4000] [--reps 3] [--cases edge_langevin:classic,subunit_langevin:pospischil_rs]

Extracts ``scripts/mfnpe`` of the commit (``git archive``) into a temporary folder as the
package ``mfnpe_base``, then times shard runs (simulation and features, ``mfnpe.bench``'s
LF setting: 100 µm², dt 0.025 ms) of the earlier and the current package alternately,
one thread, and prints the least process CPU time of ``--reps`` of each as neuron-steps/s
and their ratio.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _extract(commit: str, folder: Path) -> None:
    """``scripts/mfnpe`` of ``commit`` as ``folder/mfnpe_base``, its imports renamed."""
    archive = folder / "scripts.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit,
                    "scripts/mfnpe"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    package = folder / "mfnpe_base"
    (folder / "scripts" / "mfnpe").rename(package)
    for path in package.rglob("*.py"):
        path.write_text(re.sub(r"\bmfnpe(\.|\b)", r"mfnpe_base\1", path.read_text()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", default="edge_langevin:classic,subunit_langevin:pospischil_rs")
    args = parser.parse_args(argv)
    from mfnpe.runtime import limit_threads, start_jax

    limit_threads(1)
    start_jax()
    with tempfile.TemporaryDirectory() as tmp:
        _extract(args.commit, Path(tmp))
        sys.path.insert(0, tmp)
        for case in args.cases.split(","):
            model, neuron = case.split(":")
            runs = {}
            for package in ("mfnpe_base", "mfnpe"):
                bench = importlib.import_module(package + ".bench")
                schema = importlib.import_module(package + ".plan.config").load_schema(SCHEMA_PATH)
                config = bench._config({"name": model, "dt": 0.025}, area=100.0, schema=schema,
                                       neuron=neuron)
                bench._shard(config, 500, "lf", 1)  # compile

                def run(bench=bench, config=config) -> tuple[float, int]:
                    start = time.process_time()
                    shard = bench._shard(config, args.n, "lf", 1)
                    return time.process_time() - start, shard.stats["neuron_steps"]

                runs[package] = run
            times = {package: [] for package in runs}
            for _ in range(args.reps):  # alternately, so both see the same load
                for package, run in runs.items():
                    times[package].append(run())
            best = {package: min(found) for package, found in times.items()}
            rate = {package: steps / seconds / 1e6 for package, (seconds, steps) in best.items()}
            print(f"{model} {neuron}: {args.commit} {rate['mfnpe_base']:.2f}, now "
                  f"{rate['mfnpe']:.2f} M neuron-steps/s (CPU time), "
                  f"ratio {rate['mfnpe'] / rate['mfnpe_base']:.2f}", flush=True)


if __name__ == "__main__":
    main()
