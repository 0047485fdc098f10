"""Posteriors of every trained model for one recording, and the files of the observation
rules: ``posterior.h5`` (draws, log q of the true theta, HPD level) and ``ppc.h5``
(posterior predictive simulations).

The HPD level of theta_true is the fraction of posterior draws with a higher density
than theta_true: theta_true lies in the 95% highest-posterior-density region when it is
at most 0.95, i.e. when q(theta_true | x) is at least the 5% quantile of q over the draws.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfnpe import seeds
from mfnpe.names import RUN_KEYS
from mfnpe.io import kinds
from mfnpe.io.hdf5 import ShardError, atomic_write, canonical, check_file, open_file, read_dataset, read_names

log = logging.getLogger(__name__)

POSTERIOR_KIND = kinds.OBSERVATION_POSTERIOR
PPC_KIND = kinds.PREDICTIVE_CHECK


@dataclass
class ObservationPosterior:
    """Every model's posterior for one recording (M models, S draws, d parameters).

    x : (f,) the recording's features, columns ``feature_names``.
    theta_true : (d,) the known parameters, or None.
    runs : M dicts method, n_lf, n_hf, seed.
    samples : (M, S, d) posterior draws, columns ``param_names``.
    log_prob_true : (M,) log q(theta_true | x) [nats, theta units]; NaN if theta unknown.
    hpd_level : (M,) fraction of draws denser than theta_true; NaN if theta unknown.
    """

    name: str
    source: str
    x: np.ndarray
    feature_names: list[str]
    param_names: list[str]
    theta_true: np.ndarray | None
    runs: list[dict]
    samples: np.ndarray
    log_prob_true: np.ndarray
    hpd_level: np.ndarray
    settings: dict = field(default_factory=dict)


def hpd_level(log_prob_draws: np.ndarray, log_prob_true: float) -> float:
    """Fraction of draws with log q above ``log_prob_true``; ``log_prob_draws`` (S,)."""
    return float(np.mean(np.asarray(log_prob_draws) > log_prob_true))


def observe(name: str, source: str, x: np.ndarray, theta: np.ndarray | None, models: Sequence,
            runs: Sequence[Mapping], n_samples: int, master_seed: int) -> ObservationPosterior:
    """Draw ``n_samples`` from every model (Posterior objects, one per run) at the features
    ``x`` (f,) of recording ``name`` (file ``source``) and, when the true parameters
    ``theta`` (d,) are known, evaluate their log q and HPD level."""
    samples, log_true, level = [], [], []
    if theta is not None:
        prior = models[0].prior
        for param, value, low, high in zip(prior.names, theta, prior.low, prior.high):
            if not low <= value <= high:
                log.warning("%s: true %s = %g is outside the prior [%g, %g]: every model's "
                            "log q(theta_true) is -inf", source, param, value, low, high)
    for model, run in zip(models, runs, strict=True):
        seed = seeds.observation_seeds(master_seed, "posterior", name, 1,
                                       run["method"], run["n_lf"], run["n_hf"], run["seed"])[0]
        draws = model.sample(x, n_samples, seed=int(seed))  # (S, d)
        samples.append(draws)
        if theta is None:
            log_true.append(np.nan)
            level.append(np.nan)
            continue
        log_true.append(model.log_prob(theta[None], x[None])[0])
        level.append(hpd_level(model.log_prob(draws, np.repeat(x[None], len(draws), 0)),
                               log_true[-1]))
    return ObservationPosterior(name, source, np.asarray(x, float),
                                list(models[0].feature_names or []),
                                list(models[0].prior.names), theta,
                                [dict(run) for run in runs], np.stack(samples),
                                np.array(log_true), np.array(level))


def write_observation(path, result: ObservationPosterior) -> None:
    def write(handle):
        handle.attrs["kind"] = POSTERIOR_KIND
        handle.attrs["settings"] = canonical(result.settings)
        handle.attrs["name"] = result.name
        handle.attrs["source"] = result.source
        handle.attrs["param_names"] = json.dumps(result.param_names)
        handle.attrs["feature_names"] = json.dumps(result.feature_names)
        handle.attrs["runs"] = canonical(result.runs)
        for name in ("x", "samples", "log_prob_true", "hpd_level"):
            handle.create_dataset(name, data=getattr(result, name))
        if result.theta_true is not None:
            handle.create_dataset("theta_true", data=result.theta_true)

    atomic_write(path, write)


def read_observation(path, expected_settings: Mapping | None = None) -> ObservationPosterior:
    """Read and check a ``posterior.h5`` (kind, settings if given, shapes)."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, POSTERIOR_KIND, expected_settings)
        params = read_names(handle, path, "param_names")
        features = read_names(handle, path, "feature_names")
        arrays = {name: read_dataset(handle, path, name, ndim) for name, ndim in
                  (("x", 1), ("samples", 3), ("log_prob_true", 1), ("hpd_level", 1))}
        theta = read_dataset(handle, path, "theta_true", 1) if "theta_true" in handle else None
        runs = json.loads(handle.attrs["runs"])
        name, source = str(handle.attrs["name"]), str(handle.attrs["source"])
    m = len(runs)
    if arrays["samples"].shape[::2] != (m, len(params)) or arrays["hpd_level"].shape != (m,):
        raise ShardError(f"{path}: samples {arrays['samples'].shape} do not fit {m} models "
                         f"and parameters {params}")
    return ObservationPosterior(name, source, arrays["x"], features, params, theta, runs,
                                arrays["samples"], arrays["log_prob_true"], arrays["hpd_level"],
                                settings)


def model_index(result: ObservationPosterior, run: Mapping) -> int:
    """Index of ``run`` (method, n_lf, n_hf, seed) among the result's models."""
    wanted = {key: run[key] for key in RUN_KEYS}
    for index, found in enumerate(result.runs):
        if found == wanted:
            return index
    raise KeyError(f"recording {result.name}: no posterior of model {wanted}")


def summary_rows(result: ObservationPosterior) -> list[dict]:
    """One row per model: the run, log q(theta_true), HPD level, inside the 95% HPD region,
    the true theta and the posterior mean and SD per parameter."""
    rows = []
    known = result.theta_true is not None
    for index, run in enumerate(result.runs):
        draws = result.samples[index]
        row = {"recording": result.name, **{key: run[key] for key in RUN_KEYS},
               "log_prob_true": result.log_prob_true[index],
               "hpd_level": result.hpd_level[index],
               "inside_95": bool(result.hpd_level[index] <= 0.95) if known else None}
        for j, name in enumerate(result.param_names):
            row[f"true_{name}"] = result.theta_true[j] if known else np.nan
            row[f"mean_{name}"] = draws[:, j].mean()
            row[f"sd_{name}"] = draws[:, j].std(ddof=1)
        rows.append(row)
    return rows


@dataclass
class PredictiveSet:
    """HF simulations at n posterior draws of one model.

    theta : (n, d) the draws; x : (n, f) features (NaN rows where diverged);
    valid : (n,) bool; traces : (k, T') float32 the first k traces [mV] every trace_dt.
    """

    run: dict
    theta: np.ndarray
    x: np.ndarray
    valid: np.ndarray
    traces: np.ndarray


@dataclass
class PredictiveCheck:
    """Posterior predictive simulations of one recording, per method.

    x : (f,) the recording's features; trace : (T',) its voltage [mV] every ``trace_dt`` ms.
    sets : method -> :class:`PredictiveSet`.
    """

    name: str
    x: np.ndarray
    trace: np.ndarray
    trace_dt: float
    feature_names: list[str]
    param_names: list[str]
    sets: dict[str, PredictiveSet]
    settings: dict = field(default_factory=dict)


def write_predictive(path, check: PredictiveCheck) -> None:
    def write(handle):
        handle.attrs["kind"] = PPC_KIND
        handle.attrs["settings"] = canonical(check.settings)
        handle.attrs["name"] = check.name
        handle.attrs["trace_dt"] = float(check.trace_dt)
        handle.attrs["param_names"] = json.dumps(check.param_names)
        handle.attrs["feature_names"] = json.dumps(check.feature_names)
        handle.create_dataset("x", data=check.x)
        handle.attrs["methods"] = json.dumps(list(check.sets))
        handle.create_dataset("trace", data=np.asarray(check.trace, dtype=np.float32))
        for method, found in check.sets.items():
            group = handle.create_group(method)
            group.attrs["run"] = canonical(found.run)
            for name in ("theta", "x", "valid"):
                group.create_dataset(name, data=getattr(found, name))
            group.create_dataset("traces", data=np.asarray(found.traces, dtype=np.float32),
                                 compression="gzip", shuffle=True)

    atomic_write(path, write)


def read_predictive(path, expected_settings: Mapping | None = None) -> PredictiveCheck:
    """Read and check a ``ppc.h5`` (kind, settings if given, shapes)."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, PPC_KIND, expected_settings)
        params = read_names(handle, path, "param_names")
        features = read_names(handle, path, "feature_names")
        x = read_dataset(handle, path, "x", 1)
        trace = read_dataset(handle, path, "trace", 1)
        sets = {}
        for method in read_names(handle, path, "methods"):
            arrays = {name: read_dataset(handle, path, f"{method}/{name}", ndim) for name, ndim in
                      (("theta", 2), ("x", 2), ("valid", 1), ("traces", 2))}
            if arrays["x"].shape != (len(arrays["valid"]), len(features)):
                raise ShardError(f"{path}: {method}/x has shape {arrays['x'].shape} for "
                                 f"{len(arrays['valid'])} simulations of {len(features)} features")
            arrays["valid"] = arrays["valid"].astype(bool)
            sets[method] = PredictiveSet(json.loads(handle[method].attrs["run"]), **arrays)
        name, trace_dt = str(handle.attrs["name"]), float(handle.attrs["trace_dt"])
    return PredictiveCheck(name, x, trace, trace_dt, features, params, sets, settings)
