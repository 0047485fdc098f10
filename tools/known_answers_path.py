"""Known answers through the recommended real-cell path: θ drawn from config/recording.yaml's
prior, each simulated with HF under 18711001's three sweeps (tools/synthetic_recording.py)
and inferred like the cell (tools/real_cell.py, LF-TSNPE: the pretraining on 5000 LF from the
prior, then ``sequential.lf_rounds`` rounds of 5000, six rounds in all as config/recording.yaml
says). Per θ: its HPD level in the posterior (inside the 95 % region?) and the
measure of fit of 50 HF predictive simulations (spike count, rest, AP peak).

    .venv/bin/python tools/known_answers_path.py --out known/ [--n 20] [--seed 2026]
    .venv/bin/python tools/known_answers_path.py --out known/ --summary
    .venv/bin/python tools/known_answers_path.py --out known/ --truth   (the fit at θ itself)

Each θ is about 1200–2100 s of CPU (one process, one thread). A θ whose ``ka<k>.json`` exists is
skipped, so the command resumes where it stopped; ``--summary`` prints the table of those
run. A cell the path refuses because it has no passive card (it fires through every
hyperpolarising pulse, so ``area: {from_recording: 2}`` cannot be resolved) is run again as
a user would after that error: with the area prior written out — the range θ was drawn
from — in an overlay (``ka<k>_area.yaml``); the summary marks it.

``--truth`` scores, for every θ simulated so far, 50 HF simulations at θ itself by the same
measure of fit (tools/real_cell.py's ``truth`` strategy, ``ka<k>_truth.json``, about 1 min
of CPU each): the fit the true parameters reach through the simulator's noise, the ceiling
of any posterior's fit on that cell. The summary shows it beside the posterior's.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["config/config.yaml", "config/recording_18711001.yaml",
           "config/recording_sequential.yaml"]  # = config/recording.yaml (tested)
LIKE, SWEEPS, WINDOW = "tests/data/recordings/18711001.abf", ["10", "20", "29"], ["0", "1400"]
NO_CARD = "hyperpolarising pulses were excluded"  # the path's error for a cell with no card


@functools.cache
def path_config() -> dict:
    """The path's merged config (:data:`CONFIGS`), the area resolved from 18711001's
    passive card."""
    sys.path.insert(0, str(ROOT / "tools"))
    from config_check import merged_config
    from mfnpe.observation.passive import area_prior_from_recording

    return merged_config([ROOT / c for c in CONFIGS], area_measure=area_prior_from_recording)


def path_prior() -> dict:
    """The path's prior section."""
    return path_config()["prior"]


def draw(out: Path, n: int, seed: int) -> dict:
    """``n`` θ from the path's prior (area from 18711001's passive card), kept in
    ``out/thetas.json`` (drawn once)."""
    path = out / "thetas.json"
    if not path.exists():
        from mfnpe.prior import BoxPrior

        section = path_prior()
        prior = BoxPrior.from_config(section)
        theta = prior.sample(n, np.random.default_rng(seed))
        area = section["area"]
        path.write_text(json.dumps({"names": list(prior.names), "theta": theta.tolist(),
                                    "area": [area["low"], area["high"]]}, indent=1))
    return json.loads(path.read_text())


def area_overlay(out: Path, k: int, area: tuple[float, float]) -> Path:
    """``out/ka<k>_area.yaml``: recording_sequential.yaml's prior with the area log-uniform on
    ``area`` (µm²) instead of from the passive card (a prior in an overlay replaces the whole
    prior before it)."""
    import yaml

    prior = yaml.safe_load((ROOT / CONFIGS[-1]).read_text())["prior"]
    prior["area"] = {"low": float(area[0]), "high": float(area[1]), "scale": "log"}
    path = out / f"ka{k}_area.yaml"
    path.write_text(yaml.safe_dump({"prior": prior}, sort_keys=False))
    return path


def path_rounds() -> int:
    """The LF-TSNPE rounds of the path: the pretraining plus ``sequential.lf_rounds``."""
    return 1 + int(path_config()["sequential"]["lf_rounds"])


def theta_assignments(names, theta) -> list[str]:
    """``["gNa=56.1", ...]``: θ as tools/real_cell.py's and synthetic_recording.py's
    ``--theta`` take it."""
    return [f"{n}={v:.6g}" for n, v in zip(names, theta)]


def run_one(out: Path, k: int, names, theta, area: tuple[float, float]) -> None:
    """Simulate θ ``k`` into ``out/cell<k>.nwb`` and infer it into ``out/ka<k>.json``; a cell
    without a passive card again with the area prior ``area`` (µm²) written out."""
    assignments = theta_assignments(names, theta)
    cell = out / f"cell{k}.nwb"
    python = sys.executable
    subprocess.run([python, "tools/synthetic_recording.py", "--out", str(cell), "--like", LIKE,
                    "--sweeps", *SWEEPS, "--window", *WINDOW, "--model-name", "pospischil_rs",
                    "--simulator", "binomial", "--seed", str(100 + k), "--theta", *assignments],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    overlay = out / f"ka{k}.yaml"
    overlay.write_text(f"stimulus:\n  recording: {cell}\n  sweeps: [0, 1, 2]\n"
                       f"  window_ms: [0.0, 1400.0]\n")
    result = out / f"ka{k}.json"

    def infer(*overlays: Path) -> None:
        with open(out / f"ka{k}.log", "w") as log:
            subprocess.run([python, "tools/real_cell.py", *CONFIGS, *map(str, overlays),
                            "--strategies", "lf_tsnpe", "--lf-rounds", str(path_rounds()),
                            "--theta", *assignments, "--out", f"{result}.tmp"],
                           cwd=ROOT, check=True, stdout=log, stderr=log,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})

    try:
        infer(overlay)
    except subprocess.CalledProcessError:
        if NO_CARD not in (out / f"ka{k}.log").read_text():
            raise
        infer(overlay, area_overlay(out, k, area))
    os.replace(f"{result}.tmp", result)


def run_truth(out: Path, k: int, names, theta) -> None:
    """Score 50 HF simulations at θ ``k`` itself into ``out/ka<k>_truth.json``."""
    assignments = theta_assignments(names, theta)
    overlays = [out / f"ka{k}.yaml"]
    if (out / f"ka{k}_area.yaml").exists():
        overlays.append(out / f"ka{k}_area.yaml")
    result = out / f"ka{k}_truth.json"
    with open(out / f"ka{k}_truth.log", "w") as log:
        subprocess.run([sys.executable, "tools/real_cell.py", *CONFIGS, *map(str, overlays),
                        "--strategies", "truth", "--theta", *assignments, "--out",
                        f"{result}.tmp"], cwd=ROOT, check=True, stdout=log, stderr=log,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.replace(f"{result}.tmp", result)


def key_worst(found: dict) -> dict:
    """The worst sweep's fraction within tolerance of the spike count, rest and AP peak."""
    sweeps = found["sweeps"].values()
    return {key: min(s[key] for s in sweeps) for key in ("spikes", "rest_mean", "ap_peak")}


def recorded_spikes(log: Path) -> str:
    """The synthetic cell's spike count per sweep, ``"3/5/7"``, from the ``x_o`` line that
    tools/real_cell.py prints first."""
    line = next((row for row in log.read_text().splitlines() if row.startswith("x_o ")), "")
    counts = re.findall(r"'spike_count@\d+': (?:np\.float64\()?([\d.]+)", line)
    return "/".join(str(int(float(c))) for c in counts) or "?"


def summary(out: Path, thetas: dict) -> str:
    """One line per θ run and the totals: the synthetic cell's spike counts, the HPD level,
    inside the 95 % region, the worst sweep's fractions within tolerance (spikes, rest, AP
    peak), CPU seconds; a refused θ with its error."""
    lines = ["theta  recorded spikes  hpd_level  inside_95  spikes  rest  ap_peak  "
             "all_key>=0.8  cpu_s  at θ itself: spikes  rest  ap_peak"]
    done = inside = fits = refused = 0
    for k in range(len(thetas["theta"])):
        path, log = out / f"ka{k}.json", out / f"ka{k}.log"
        if not path.exists():
            last = log.read_text().strip().splitlines()[-1:] if log.exists() else []
            if last and "Error" in last[0]:  # the path refused this cell (a clear error)
                refused += 1
                lines.append(f"{k:>5}  refused: {last[0][:160]}")
            continue
        found = json.loads(path.read_text())["lf_tsnpe"]
        by_hand = " (area prior written out: no passive card)" if (
            out / f"ka{k}_area.yaml").exists() else ""
        worst = key_worst(found)
        truth = out / f"ka{k}_truth.json"
        at_truth = ""
        if truth.exists():
            ceiling = key_worst(json.loads(truth.read_text())["truth"])
            at_truth = (f"  {ceiling['spikes']:19.2f}  {ceiling['rest_mean']:4.2f}  "
                        f"{ceiling['ap_peak']:7.2f}")
        done += 1
        inside += found["hpd_level"] <= 0.95
        fits += found["key_worst"] >= 0.8
        lines.append(f"{k:>5}  {recorded_spikes(log):>15}  {found['hpd_level']:9.3f}  "
                     f"{str(found['hpd_level'] <= 0.95):>9}  "
                     f"{worst['spikes']:6.2f}  {worst['rest_mean']:4.2f}  "
                     f"{worst['ap_peak']:7.2f}  {str(found['key_worst'] >= 0.8):>12}  "
                     f"{found['cpu_s']:5.0f}{at_truth}{by_hand}")
    lines.append(f"{done + refused} of {len(thetas['theta'])} run: {refused} refused; of "
                 f"{done} inferred, inside the 95 % region {inside}, every sweep's spikes, "
                 f"rest and AP peak fit >= 80 % {fits}")
    return "\n".join(lines)


def area_range(thetas: dict) -> tuple[float, float]:
    """The area range (µm²) θ was drawn from: kept in thetas.json, or for a thetas.json
    written before it was kept, 18711001's passive card ÷/× 2 as resolved today."""
    if "area" in thetas:
        return tuple(thetas["area"])
    area = path_prior()["area"]
    return area["low"], area["high"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--only", type=int, nargs="+", metavar="K",
                        help="run these θ indices only (default: every one not yet run)")
    parser.add_argument("--truth", action="store_true",
                        help="score the fit at each simulated θ itself (ka<k>_truth.json)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    thetas = draw(args.out.resolve(), args.n, args.seed)
    if args.truth:
        for k, theta in enumerate(thetas["theta"]):
            if (args.only is None or k in args.only) and (args.out / f"ka{k}.yaml").exists() \
                    and not (args.out / f"ka{k}_truth.json").exists():
                run_truth(args.out.resolve(), k, thetas["names"], theta)
    elif not args.summary:
        area = area_range(thetas)
        for k, theta in enumerate(thetas["theta"]):
            if args.only is not None and k not in args.only:
                continue
            if not (args.out / f"ka{k}.json").exists():
                try:
                    run_one(args.out.resolve(), k, thetas["names"], theta, area)
                except subprocess.CalledProcessError as err:  # refused: its log says why
                    print(f"theta {k}: {err}", file=sys.stderr)
    print(summary(args.out, thetas))


if __name__ == "__main__":
    main()
