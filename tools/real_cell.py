"""Which inference path makes a real cell's posterior predictive look like the cell: one
process, one recording config, several strategies, each scored by the measure of fit.

    .venv/bin/python tools/real_cell.py config/config.yaml config/recording_18711001.yaml \
        --strategies mf_npe lf_tsnpe lf_tsnpe+hf --out /tmp/study.json

Strategies (every one ends in a posterior q(theta | x_o) at the recording's x_o):

- ``mf_npe``: the amortized path of the workflow: ``--n-lf`` LF simulations from the prior,
  pretrain, fine-tune on ``--n-hf`` HF simulations from the prior.
- ``lf_tsnpe``: ``--lf-rounds`` rounds of ``--n-lf`` LF simulations each, round 1 from the
  prior, later rounds from the prior truncated to the current posterior's highest-density
  region at x_o (truncated NPE, mfnpe.inference.sequential); LF only.
- ``lf_tsnpe+hf``: that, then ``--hf-rounds`` rounds of ``--n-hf`` / ``--hf-rounds`` HF
  simulations from the truncated prior, fine-tuning (MF-TSNPE from the LF-TSNPE network).
- ``restricted_mf_npe``: ``mf_npe`` on the prior restricted by sbi's restriction
  estimator (Deistler et al. 2022): ``--n-lf`` LF simulations from the prior train its
  classifier of the parameters that fire on some sweep and do not diverge (the region a
  firing cell's posterior can be in; exact: no valid pilot simulation is cut); then
  ``--n-lf`` more LF simulations and the ``--n-hf`` HF ones are drawn from the restricted
  prior, and pretraining uses the pilot's simulations inside it as well.
- ``truth``: no inference: every draw is the ``--theta`` given (a recording with a known
  answer), so its score is the fit the true parameters themselves reach through the
  simulator's noise — the ceiling of every posterior's fit on that cell.

Each posterior is scored with ``--ppc`` HF simulations at its draws (``fit_set``: the
fractions within the spike-count, rest and AP-peak tolerances per sweep) and the CPU
seconds of this process (simulation and training) are reported per strategy. With
``--theta name=value ...`` (a recording with a known answer, tools/synthetic_recording.py)
each posterior also reports the HPD level of that theta among 2000 of its draws and
whether it lies inside the 95 % region.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from mfnpe import seeds
from mfnpe.inference import NetworkSettings, TrainingSettings, finetune, pretrain
from mfnpe.inference.sequential import SequentialSettings, run_rounds
from mfnpe.observation.fit import fit_set, sweep_windows
from mfnpe.observation.measures import recorded_measures, trace_measures
from mfnpe.observation.passive import area_prior_from_recording
from mfnpe.observation.posterior import hpd_level
from mfnpe.recordings.stimulus import resolve as resolve_recording
from mfnpe.observation.observed import observed_features, observed_trace
from mfnpe.recordings.sweeps import read_observed
from mfnpe.stimulus.sweeps import feature_names, split_name, sweeps_of
from mfnpe.plan import observations as plan_observations
from mfnpe.plan import runs, shards
from mfnpe.plan.config import resolve_recording as resolve_config_recording
from mfnpe.prior import BoxPrior
from mfnpe.simulation.shard import simulate_shard

from config_check import merged_config  # tools/: Snakemake's merge of the config files

KEY_FEATURES = ("spike_count", "rest_mean", "ap_peak")


class Simulator:
    """theta (n, d) -> x (n, f), NaN rows where diverged, with a running seed stream."""

    def __init__(self, config, pool: str, names, label: str):
        self.experiment = shards.experiment_simulation(config, pool)
        self.names, self.label, self.calls, self.n = list(names), label, 0, 0

    def __call__(self, theta, traces_dt=None):
        self.calls += 1
        sim_seeds = seeds.observation_seeds(0, "predictive", f"study-{self.label}",
                                            len(theta), self.calls)
        shard = simulate_shard(np.asarray(theta, float), self.names,
                               self.experiment.with_traces(traces_dt), sim_seeds)
        self.n += len(theta)
        return shard if traces_dt else shard.x


def load_recording(configs):
    """The merged config of ``configs`` (paths), its prior, feature names, the recording
    under the config's protocol and its features x_o (f,)."""
    config = merged_config(configs, area_measure=area_prior_from_recording)
    resolve_config_recording(config, configs, resolve_recording)
    prior = BoxPrior.from_config(config["prior"])
    names = feature_names(list(config["features"]), sweeps_of(config["stimulus"]))
    protocol = plan_observations.protocol(config)
    recording = read_observed(config["stimulus"]["recording"], protocol)
    return config, prior, names, recording, observed_features(recording, config["features"],
                                                              protocol)


def spike_columns(names) -> list[int]:
    """The columns of x that hold a sweep's spike count."""
    return [i for i, name in enumerate(names) if split_name(name)[0] == "spike_count"]


def restricted_prior(prior, names, theta, x, seed: int):
    """sbi's restriction estimator trained on simulations theta (n, d), x (n, f) of the
    prior: valid is finite and at least one spike on some sweep. Returns the restricted
    prior (``.sample((n,))``, torch) and its accept function (theta (n, d) -> bool (n,))."""
    from sbi.utils import RestrictionEstimator

    from mfnpe.inference.priors import torch_distribution

    spikes = spike_columns(names)

    def fires(x):
        return torch.isfinite(x).all(1) & (torch.nan_to_num(x[:, spikes]) > 0).any(1)

    torch.manual_seed(seed)
    estimator = RestrictionEstimator(torch_distribution(prior), decision_criterion=fires)
    estimator.append_simulations(torch.as_tensor(theta, dtype=torch.float32),
                                 torch.as_tensor(x, dtype=torch.float32))
    with contextlib.redirect_stdout(sys.stderr):  # sbi's epoch counter
        estimator.train()
    restricted = estimator.restrict_prior()
    # the classifier's verdict on given theta: sbi 0.27 keeps it as a private attribute
    return restricted, lambda t: restricted._accept_reject_fn(
        torch.as_tensor(t, dtype=torch.float32)).numpy()


class PointMass:
    """The posterior that puts every draw at one theta (d,)."""

    def __init__(self, theta):
        self.theta = np.asarray(theta, float)

    def sample(self, x, n: int, seed=None) -> np.ndarray:
        return np.repeat(self.theta[None], n, axis=0)


def draw_restricted(restricted, n: int) -> np.ndarray:
    """``n`` draws (n, d) of sbi's restricted prior, float64."""
    return restricted.sample((n,), print_rejected_frac=False).numpy().astype(float)


def fires_share(x, names) -> float:
    """The share of rows of x (n, f) with a spike on some sweep."""
    return float((np.nan_to_num(x[:, spike_columns(names)]) > 0).any(1).mean())


def known_theta(assignments, names) -> np.ndarray:
    """theta (d,) in ``names``' order from ``["name=value", ...]``."""
    if not assignments:
        raise SystemExit("the truth strategy needs --theta name=value for every parameter")
    known = dict(item.split("=") for item in assignments)
    return np.array([float(known[name]) for name in names])


def score(posterior, x_o, simulate_hf: Simulator, windows, recorded, names, n: int,
          trace_dt: float) -> dict:
    """The fit of ``n`` HF simulations at posterior draws: per sweep and key feature."""
    theta = posterior.sample(x_o, n, seed=123)
    shard = simulate_hf(theta, traces_dt=trace_dt)
    measures = trace_measures(shard.traces, trace_dt, windows)
    fit = fit_set(x_o, names, shard.x, shard.valid, measures, recorded)
    out = {"invalid": fit.invalid, "sweeps": {}}
    for sweep in fit.sweeps:
        out["sweeps"][str(sweep.sweep)] = {
            "spikes": sweep.spikes, "all": sweep.all_features, "silent": sweep.silent,
            "blocked": sweep.blocked, "prestim": sweep.prestimulus,
            **{name: sweep.features.get(name) for name in KEY_FEATURES[1:]},
            "features": dict(sweep.features)}
    key = [min(s["spikes"], s["rest_mean"], s["ap_peak"]) for s in out["sweeps"].values()]
    out["key_worst"] = float(min(key))
    out["mean"] = theta.mean(0).tolist()
    out["sd"] = theta.std(0).tolist()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--strategies", nargs="+", default=["mf_npe", "lf_tsnpe",
                                                           "lf_tsnpe+hf"])
    parser.add_argument("--n-lf", type=int, default=5000)
    parser.add_argument("--lf-rounds", type=int, default=4)
    parser.add_argument("--n-hf", type=int, default=200)
    parser.add_argument("--hf-rounds", type=int, default=2)
    parser.add_argument("--truncation-quantile", type=float, default=None,
                        help="posterior mass left outside each LF-TSNPE round's truncated "
                             "prior (default: the config's sequential.truncation_quantile)")
    parser.add_argument("--ppc", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--save", default=None, help="folder for each strategy's posterior")
    parser.add_argument("--theta", nargs="+", default=None,
                        help="the recording's known parameters, name=value for every one")
    parser.add_argument("--score-lf", action="store_true",
                        help="score with LF predictive simulations too (LF against HF)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)

    config, prior, names, recording, x_o = load_recording(args.configs)
    trace_dt = config["traces"]["dt"]
    windows = sweep_windows(shards.simulation_settings(config, "test")["stimulus"])
    recorded = recorded_measures(observed_trace(recording, trace_dt), trace_dt, windows)
    network = NetworkSettings.from_dict(runs.network_settings(config))
    truncation_quantile = (config["sequential"]["truncation_quantile"]
                           if args.truncation_quantile is None else args.truncation_quantile)
    train_lf = TrainingSettings.from_dict(runs.training_settings(config["inference"], "lf_npe"))
    train_hf = TrainingSettings.from_dict(runs.training_settings(config["inference"], "mf_npe"))
    lf = Simulator(config, "lf", prior.names, "lf")
    hf = Simulator(config, "hf", prior.names, "hf")
    scorer = Simulator(config, "test", prior.names, "ppc")
    lf_scorer = Simulator(config, "lf", prior.names, "ppc-lf")
    print("x_o", dict(zip(names, np.round(x_o, 3))))

    results, lf_tsnpe = {}, None
    for strategy in args.strategies:
        cpu0, n_lf0, n_hf0 = time.process_time(), lf.n, hf.n
        rng = np.random.default_rng(args.seed)
        if strategy == "mf_npe":
            theta = prior.sample(args.n_lf, rng)
            x = lf(theta)
            ok = np.isfinite(x).all(1)
            lf_npe = pretrain(theta[ok], x[ok], prior, network, train_lf, seed=args.seed,
                              feature_names=names)
            theta = prior.sample(args.n_hf, rng)
            x = hf(theta)
            ok = np.isfinite(x).all(1)
            posterior = finetune(lf_npe, theta[ok], x[ok], train_hf, seed=args.seed)
        elif strategy == "restricted_mf_npe":
            pilot = prior.sample(args.n_lf, rng)
            x_pilot = lf(pilot)
            restricted, accept = restricted_prior(prior, names, pilot, x_pilot, args.seed)
            keep = accept(pilot)
            theta = np.concatenate([pilot[keep], draw_restricted(restricted, args.n_lf)])
            x = np.concatenate([x_pilot[keep], lf(theta[keep.sum():])])
            ok = np.isfinite(x).all(1)
            print(f"restriction: keeps {keep.mean():.3f} of the pilot's prior draws, "
                  f"{fires_share(x_pilot, names):.3f} of which fire; LF on it: "
                  f"{fires_share(x[keep.sum():], names):.3f} fire", flush=True)
            lf_npe = pretrain(theta[ok], x[ok], prior, network, train_lf, seed=args.seed,
                              feature_names=names)
            theta = draw_restricted(restricted, args.n_hf)
            x = hf(theta)
            ok = np.isfinite(x).all(1)
            posterior = finetune(lf_npe, theta[ok], x[ok], train_hf, seed=args.seed)
        elif strategy == "truth":
            posterior = PointMass(known_theta(args.theta, prior.names))
        elif strategy.startswith("lf_tsnpe"):
            lf_settings = SequentialSettings(rounds=args.lf_rounds,
                                             simulations_per_round=args.n_lf,
                                             truncation_quantile=truncation_quantile)
            if lf_tsnpe is None:  # the LF rounds are shared by both strategies
                lf_tsnpe = run_rounds("tsnpe", lf, x_o, prior, lf_settings, network, train_lf,
                                      seed=args.seed)[-1].members[0]
            posterior = lf_tsnpe
            if strategy.endswith("+hf"):
                hf_settings = SequentialSettings(
                    rounds=args.hf_rounds, simulations_per_round=args.n_hf // args.hf_rounds)
                posterior = run_rounds("mf_tsnpe", hf, x_o, prior, hf_settings, network,
                                       train_hf, seed=args.seed,
                                       pretrained=posterior)[-1].members[0]
        else:
            raise SystemExit(f"unknown strategy {strategy}")
        cpu = time.process_time() - cpu0
        found = score(posterior, x_o, scorer, windows, recorded, names, args.ppc, trace_dt)
        found.update(cpu_s=cpu, n_lf=lf.n - n_lf0, n_hf=hf.n - n_hf0)
        if args.theta and strategy != "truth":
            theta = known_theta(args.theta, prior.names)[None]
            draws = posterior.sample(x_o, 2000, seed=321)
            found["hpd_level"] = hpd_level(posterior.log_prob(draws, x_o),
                                           float(posterior.log_prob(theta, x_o)[0]))
            print(f"  known theta: HPD level {found['hpd_level']:.3f}, inside the 95 % "
                  f"region: {found['hpd_level'] <= 0.95}")
        if args.score_lf:
            found["lf_scored"] = score(posterior, x_o, lf_scorer, windows, recorded, names,
                                       args.ppc, trace_dt)
            print("  scored with LF:", {sweep: {k: round(v[k], 2) for k in
                                                ("spikes", "rest_mean", "ap_peak", "blocked")}
                                        for sweep, v in found["lf_scored"]["sweeps"].items()})
        if args.save and strategy != "truth":
            os.makedirs(args.save, exist_ok=True)
            posterior.save(os.path.join(args.save, f"{strategy}.pt"))
        results[strategy] = found
        print(strategy, f"cpu {cpu:.0f} s", f"LF {found['n_lf']} HF {found['n_hf']}",
              "invalid", found["invalid"], "key_worst", found["key_worst"])
        for sweep, values in found["sweeps"].items():
            print("  sweep", sweep, {k: (round(v, 2) if isinstance(v, float) else v)
                                     for k, v in values.items() if k != "features"})
        print("  mean", dict(zip(prior.names, np.round(found["mean"], 3))))
        print("  sd  ", dict(zip(prior.names, np.round(found["sd"], 3))))
        if args.out:
            with open(args.out, "w") as handle:
                json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
