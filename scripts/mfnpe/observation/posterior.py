"""Posteriors of every trained model for one recording, and the files of the observation
rules: ``posterior.h5`` (draws, log q of the true theta, HPD level, the most probable
draw) and ``ppc.h5`` (posterior predictive simulations, and a few at that draw).

The HPD level of theta_true is the fraction of posterior draws with a higher density
than theta_true: theta_true lies in the 95% highest-posterior-density region when it is
at most 0.95, i.e. when q(theta_true | x) is at least the 5% quantile of q over the draws.

The posterior's most probable point (MAP) is its most probable draw: the one of highest
density among the S draws in the network's unbounded coordinates (each parameter's logit
position in the prior box; ``Posterior.log_prob_unbounded``). In theta's own coordinates
the density grows without bound towards the box's edges (the Jacobian of the logit), so
the draw of highest q(theta | x) sits at an edge, not at a mode. No gradient steps; with S
in the thousands the draw lies near the mode of a unimodal posterior, and it is always a
point the posterior does draw.
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
from mfnpe.observation.fit import TraceMeasures

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
    map_theta : (M, d) each model's most probable draw (None in a file written before it).
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
    map_theta: np.ndarray | None = None


def hpd_level(log_prob_draws: np.ndarray, log_prob_true: float) -> float:
    """Fraction of draws with log q above ``log_prob_true``; ``log_prob_draws`` (S,)."""
    return float(np.mean(np.asarray(log_prob_draws) > log_prob_true))


def observe(name: str, source: str, x: np.ndarray, theta: np.ndarray | None, models: Sequence,
            runs: Sequence[Mapping], n_samples: int, master_seed: int) -> ObservationPosterior:
    """Draw ``n_samples`` from every model (Posterior objects, one per run) at the features
    ``x`` (f,) of recording ``name`` (file ``source``), find each model's most probable
    draw and, when the true parameters ``theta`` (d,) are known, evaluate their log q and
    HPD level."""
    samples, log_true, level, most_probable = [], [], [], []
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
        xs = np.repeat(x[None], len(draws), 0)
        log_q = np.asarray(model.log_prob(draws, xs), float)
        # the mode in the network's coordinates (a model without them: its own density)
        log_q_u = np.asarray(getattr(model, "log_prob_unbounded", model.log_prob)(draws, xs),
                             float)
        most_probable.append(draws[int(np.argmax(np.nan_to_num(log_q_u, nan=-np.inf)))])
        if theta is None:
            log_true.append(np.nan)
            level.append(np.nan)
            continue
        log_true.append(model.log_prob(theta[None], x[None])[0])
        level.append(hpd_level(log_q, log_true[-1]))
    return ObservationPosterior(name, source, np.asarray(x, float),
                                list(models[0].feature_names or []),
                                list(models[0].prior.names), theta,
                                [dict(run) for run in runs], np.stack(samples),
                                np.array(log_true), np.array(level),
                                map_theta=np.stack(most_probable))


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
        if result.map_theta is not None:
            handle.create_dataset("map_theta", data=result.map_theta)

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
        map_theta = read_dataset(handle, path, "map_theta", 2) if "map_theta" in handle else None
        runs = json.loads(handle.attrs["runs"])
        name, source = str(handle.attrs["name"]), str(handle.attrs["source"])
    m = len(runs)
    if arrays["samples"].shape[::2] != (m, len(params)) or arrays["hpd_level"].shape != (m,):
        raise ShardError(f"{path}: samples {arrays['samples'].shape} do not fit {m} models "
                         f"and parameters {params}")
    if map_theta is not None and map_theta.shape != (m, len(params)):
        raise ShardError(f"{path}: map_theta has shape {map_theta.shape}, not ({m}, "
                         f"{len(params)})")
    return ObservationPosterior(name, source, arrays["x"], features, params, theta, runs,
                                arrays["samples"], arrays["log_prob_true"], arrays["hpd_level"],
                                settings, map_theta)


def model_index(result: ObservationPosterior, run: Mapping) -> int:
    """Index of ``run`` (method, n_lf, n_hf, seed) among the result's models."""
    wanted = {key: run[key] for key in RUN_KEYS}
    for index, found in enumerate(result.runs):
        if found == wanted:
            return index
    raise KeyError(f"recording {result.name}: no posterior of model {wanted}")


def last_rounds(sequential: ObservationPosterior, seed: int) -> dict[str, int]:
    """``{method: index}`` of each chain of ``seed``'s last round among the sequential
    posteriors' runs (a chain's rounds are stored in order, so the last one stays)."""
    return {run["method"]: i for i, run in enumerate(sequential.runs) if run["seed"] == seed}


def summary_rows(result: ObservationPosterior) -> list[dict]:
    """One row per model: the run, log q(theta_true), HPD level, inside the 95% HPD region,
    the true theta, the posterior mean and SD and the most probable draw (``map_``) per
    parameter."""
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
            row[f"map_{name}"] = (result.map_theta[index, j] if result.map_theta is not None
                                  else np.nan)
        rows.append(row)
    return rows


@dataclass
class PredictiveSet:
    """HF simulations at n posterior draws of one model.

    theta : (n, d) the draws; x : (n, f) features (NaN rows where diverged);
    valid : (n,) bool; traces : (k, T') float32 the first k traces [mV] every trace_dt;
    measures : what the features do not tell of all n traces, per sweep
    (:class:`mfnpe.observation.fit.TraceMeasures`; None in a file written before them).
    """

    run: dict
    theta: np.ndarray
    x: np.ndarray
    valid: np.ndarray
    traces: np.ndarray
    measures: TraceMeasures | None = None


@dataclass
class PredictiveCheck:
    """Posterior predictive simulations of one recording, per method.

    x : (f,) the recording's features; trace : (T',) its voltage [mV] every ``trace_dt`` ms.
    sets : method -> :class:`PredictiveSet` at posterior draws.
    map_sets : method -> :class:`PredictiveSet` of a few simulations at that model's most
    probable draw (``mfnpe.observation.fit.MAP_SIMULATIONS``); empty in a file written
    before them.
    measures : the recording's own :class:`~mfnpe.observation.fit.TraceMeasures` (1, sweeps),
    or None (a file written before them, a trace that does not cover the sweeps).
    """

    name: str
    x: np.ndarray
    trace: np.ndarray
    trace_dt: float
    feature_names: list[str]
    param_names: list[str]
    sets: dict[str, PredictiveSet]
    settings: dict = field(default_factory=dict)
    map_sets: dict[str, PredictiveSet] = field(default_factory=dict)
    measures: TraceMeasures | None = None


MEASURES = TraceMeasures.ARRAYS
"""The (n, sweeps) datasets of a :class:`~mfnpe.observation.fit.TraceMeasures`; with them
its ``window_ms`` (sweeps,)."""


def _write_set(group, found: PredictiveSet) -> None:
    group.attrs["run"] = canonical(found.run)
    for name in ("theta", "x", "valid"):
        group.create_dataset(name, data=getattr(found, name))
    group.create_dataset("traces", data=np.asarray(found.traces, dtype=np.float32),
                         compression="gzip", shuffle=True)
    _write_measures(group, found.measures)


def _write_measures(group, measures: TraceMeasures | None) -> None:
    if measures is not None:
        for name in (*MEASURES, "window_ms"):
            group.create_dataset(name, data=getattr(measures, name))


def _read_measures(handle, path: Path, where: str, n: int) -> TraceMeasures | None:
    """The measures in group ``where`` ("" the file's root) of ``n`` traces, or None."""
    group = handle[where] if where else handle
    if not all(name in group for name in (*MEASURES, "window_ms")):
        return None
    prefix = f"{where}/" if where else ""
    found = {name: read_dataset(handle, path, f"{prefix}{name}", 2) for name in MEASURES}
    window_ms = read_dataset(handle, path, f"{prefix}window_ms", 1)
    if any(values.shape != (n, len(window_ms)) for values in found.values()):
        raise ShardError(f"{path}: the trace measures in {where or '/'} do not fit {n} traces "
                         f"of {len(window_ms)} sweeps")
    return TraceMeasures(**found, window_ms=window_ms)


def _read_set(handle, path: Path, where: str, n_features: int) -> PredictiveSet:
    arrays = {name: read_dataset(handle, path, f"{where}/{name}", ndim) for name, ndim in
              (("theta", 2), ("x", 2), ("valid", 1), ("traces", 2))}
    n = len(arrays["valid"])
    if arrays["x"].shape != (n, n_features):
        raise ShardError(f"{path}: {where}/x has shape {arrays['x'].shape} for "
                         f"{n} simulations of {n_features} features")
    arrays["valid"] = arrays["valid"].astype(bool)
    return PredictiveSet(json.loads(handle[where].attrs["run"]), **arrays,
                         measures=_read_measures(handle, path, where, n))


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
        _write_measures(handle, check.measures)  # the recording's, at the root
        for method, found in check.sets.items():
            _write_set(handle.create_group(method), found)
            if method in check.map_sets:
                _write_set(handle.create_group(f"{method}/map"), check.map_sets[method])

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
        sets, map_sets = {}, {}
        for method in read_names(handle, path, "methods"):
            sets[method] = _read_set(handle, path, method, len(features))
            if "map" in handle[method]:
                map_sets[method] = _read_set(handle, path, f"{method}/map", len(features))
        measures = _read_measures(handle, path, "", 1)
        name, trace_dt = str(handle.attrs["name"]), float(handle.attrs["trace_dt"])
    return PredictiveCheck(name, x, trace, trace_dt, features, params, sets, settings, map_sets,
                           measures)
