"""Is a recording's feature vector typical of the model's simulations? A misspecification
verdict per recording (docs/method.md, "Observations (recordings)").

The reference is a set of simulations x_1..x_n (n, f) drawn from the prior predictive of
the HF model (the workflow's test pool). In the pool of the n + 1 points (x_o and the
reference) every feature gets two coordinates (:func:`coordinates`): its normal score (the
probit of its rank; scale-free and blind to heavy tails, it compares the shape of the
joint distribution) and its robust z-score z (median and IQR / 1.349) compressed as
2 asinh(z / 2): linear within about two SDs, logarithmic beyond, so a value far outside the
simulations' range still counts, but one heavy-tailed feature (``rest_std`` of the few
traces that spike before the stimulus) does not swamp the others. The score of a point is
its mean Euclidean distance to its ``k`` nearest neighbours among the other n points. The
p-value is the share of the n + 1 scores at least as large as x_o's: a conformal p-value,
so if x_o is one more draw from the distribution of the reference, P(p <= alpha) <= alpha
whatever that distribution (exactly alpha at multiples of 1 / (n + 1)). The smallest
attainable p is 1 / (n + 1).

Per feature, the share of reference values below x_o (ties half) and a two-sided rank
p-value name the features that make x_o atypical; they are descriptions, not the test.
Features have no NaN by design (``mfnpe.simulation.features``: silent traces get defined
values); reference rows with a non-finite feature (diverged simulations) are dropped and
counted, and a non-finite x_o is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.spatial import cKDTree

from mfnpe.io import kinds
from mfnpe.io.hdf5 import (ShardError, atomic_write, canonical, check_file, open_file,
                            read_dataset, read_names)

KIND = kinds.MISSPECIFICATION
NEIGHBOURS = 5
"""k of the k-nearest-neighbour score (fewer when the reference is smaller)."""
LINEAR_SDS = 2.0
"""The robust z-score coordinate is LINEAR_SDS * asinh(z / LINEAR_SDS): about z within
LINEAR_SDS robust SDs of the median, logarithmic beyond."""
IQR_TO_SD = 1.349
"""Interquartile range of a unit normal: IQR / 1.349 estimates the SD."""


@dataclass
class Typicality:
    """The misspecification verdict of one feature vector x_o (f,) against n reference
    simulations.

    score : mean distance of x_o to its k nearest reference points, in the coordinates of
        :func:`coordinates` (normal scores and compressed robust z-scores, dimensionless).
    p_value : conformal p-value of the score, in [1 / (n + 1), 1].
    flagged : ``p_value < alpha``.
    quantile : (f,) share of reference values below x_o per feature (ties count half).
    feature_p : (f,) two-sided rank p-value per feature, in [2 / (n + 1), 1].
    z : (f,) x_o's robust z-score per feature ((x_o - median) / (IQR / 1.349)).
    low, high : (f,) the reference's 1% and 99% quantiles per feature (feature units).
    n_reference : reference simulations used; n_dropped : non-finite rows dropped.
    """

    feature_names: list[str]
    x: np.ndarray
    score: float
    p_value: float
    alpha: float
    flagged: bool
    quantile: np.ndarray
    feature_p: np.ndarray
    z: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_reference: int
    n_dropped: int
    k: int
    settings: dict = field(default_factory=dict)

    def most_atypical(self, count: int = 3) -> list[int]:
        """Indices of the ``count`` most atypical features: smallest rank p-value first,
        ties broken by the largest |z|."""
        order = np.lexsort((-np.abs(self.z), self.feature_p))
        return [int(j) for j in order[:count]]

    def describe_features(self, count: int = 3) -> str:
        """``name = value (quantile q, reference 1-99% [low, high])`` of the most atypical
        features, joined by "; "."""
        return "; ".join(
            f"{self.feature_names[j]} = {self.x[j]:.4g} (quantile {self.quantile[j]:.3f}, "
            f"p = {self.feature_p[j]:.3g}, reference 1-99% [{self.low[j]:.4g}, "
            f"{self.high[j]:.4g}])" for j in self.most_atypical(count))

    def title_note(self) -> str:
        """A short note for figure titles: empty unless flagged."""
        if not self.flagged:
            return ""
        return f"x_o atypical of the simulations (p = {self.p_value:.2g})"


def robust_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(median, scale)`` (f,) of ``x`` (n, f): scale is IQR / 1.349, or the SD where the
    IQR is 0 (features with an atom, e.g. ``isi_cv = 0`` of most traces), or 1 where the
    feature is constant."""
    median = np.median(x, axis=0)
    q25, q75 = np.percentile(x, [25, 75], axis=0)
    scale = (q75 - q25) / IQR_TO_SD
    sd = x.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(sd > 0, sd, 1.0))
    return median, scale


def coordinates(pool: np.ndarray) -> np.ndarray:
    """(m, 2f) coordinates of the rows of ``pool`` (m, f): per feature its normal score
    (probit of its average rank / (m + 1)) and its compressed robust z-score."""
    m = len(pool)
    center, scale = robust_scale(pool)
    ranks = stats.rankdata(pool, axis=0)  # ties (spike counts, silent traces) share a rank
    z = (pool - center) / scale
    return np.hstack([stats.norm.ppf(ranks / (m + 1)), LINEAR_SDS * np.arcsinh(z / LINEAR_SDS)])


def knn_scores(z: np.ndarray, k: int) -> np.ndarray:
    """(n,) mean distance of every row of ``z`` (n, f) to its ``k`` nearest other rows."""
    distances, _ = cKDTree(z).query(z, k=k + 1)
    return distances[:, 1:].mean(axis=1)  # column 0: the point itself (distance 0)


def rank_p_values(reference: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(quantile, p)`` (f,) of ``x`` (f,) per feature among ``reference`` (n, f): the share
    below (ties half) and the two-sided rank p-value min(1, 2 min(P_low, P_high)) with
    P_low = (1 + #{ref <= x}) / (n + 1), P_high = (1 + #{ref >= x}) / (n + 1)."""
    n = len(reference)
    below = (reference < x).sum(axis=0)
    equal = (reference == x).sum(axis=0)
    above = n - below - equal
    quantile = (below + 0.5 * equal) / n
    low = (1 + below + equal) / (n + 1)
    high = (1 + above + equal) / (n + 1)
    return quantile, np.minimum(1.0, 2 * np.minimum(low, high))


def typicality(reference: np.ndarray, x: np.ndarray, feature_names: Sequence[str],
               alpha: float, k: int = NEIGHBOURS) -> Typicality:
    """The verdict of ``x`` (f,) against the reference simulations ``reference`` (n, f).

    Raises
    ------
    ValueError when ``x`` has a non-finite feature (named), the shapes do not fit, or fewer
    than 2 finite reference rows remain.
    """
    reference = np.asarray(reference, dtype=float)
    x = np.asarray(x, dtype=float)
    names = list(feature_names)
    if reference.ndim != 2 or x.shape != (reference.shape[1],) or len(names) != len(x):
        raise ValueError(f"reference {reference.shape}, x {x.shape} and features {names} "
                         "do not fit (expected (n, f), (f,) and f names)")
    bad = [name for name, value in zip(names, x) if not np.isfinite(value)]
    if bad:
        raise ValueError(f"x_o has non-finite features {bad}: no typicality can be judged")
    finite = np.isfinite(reference).all(axis=1)
    reference = reference[finite]
    n = len(reference)
    if n < 2:
        raise ValueError(f"{n} finite reference simulations: at least 2 are needed")
    k = max(1, min(k, n - 1))
    pool = np.vstack([x[None], reference])  # row 0: x_o
    center, scale = robust_scale(pool)
    scores = knn_scores(coordinates(pool), k)
    p_value = float(np.mean(scores >= scores[0]))  # x_o counts itself: p >= 1 / (n + 1)
    quantile, feature_p = rank_p_values(reference, x)
    low, high = np.percentile(reference, [1, 99], axis=0)
    return Typicality(names, x, float(scores[0]), p_value, float(alpha), p_value < alpha,
                      quantile, feature_p, (x - center) / scale, low, high, n,
                      int((~finite).sum()), k)


ARRAYS = ("x", "quantile", "feature_p", "z", "low", "high")


def write_typicality(path, result: Typicality) -> None:
    """Write ``result`` to an HDF5 file ``path`` (atomically)."""
    def write(handle):
        handle.attrs["kind"] = KIND
        handle.attrs["settings"] = canonical(result.settings)
        handle.attrs["feature_names"] = json.dumps(result.feature_names)
        for name in ("score", "p_value", "alpha"):
            handle.attrs[name] = float(getattr(result, name))
        handle.attrs["flagged"] = bool(result.flagged)
        for name in ("n_reference", "n_dropped", "k"):
            handle.attrs[name] = int(getattr(result, name))
        for name in ARRAYS:
            handle.create_dataset(name, data=np.asarray(getattr(result, name), dtype=float))

    atomic_write(path, write)


def read_typicality(path, expected_settings: Mapping | None = None) -> Typicality:
    """Read and check a file of :func:`write_typicality` (kind, settings if given)."""
    path = Path(path)
    with open_file(path) as handle:
        settings = check_file(handle, path, KIND, expected_settings)
        names = read_names(handle, path, "feature_names")
        arrays = {name: read_dataset(handle, path, name, 1) for name in ARRAYS}
        try:
            scalars = {name: float(handle.attrs[name]) for name in ("score", "p_value", "alpha")}
            counts = {name: int(handle.attrs[name]) for name in ("n_reference", "n_dropped", "k")}
            flagged = bool(handle.attrs["flagged"])
        except KeyError as err:
            raise ShardError(f"{path}: attribute {err} is missing") from err
    if any(len(values) != len(names) for values in arrays.values()):
        raise ShardError(f"{path}: per-feature arrays do not fit the features {names}")
    return Typicality(names, arrays["x"], scalars["score"], scalars["p_value"], scalars["alpha"],
                      flagged, arrays["quantile"], arrays["feature_p"], arrays["z"],
                      arrays["low"], arrays["high"], counts["n_reference"], counts["n_dropped"],
                      counts["k"], settings)


def summary_columns(result: Typicality) -> dict:
    """The verdict's columns of ``results/summary/observations.csv``: score, p-value and
    flag (``misspecification_*``)."""
    return {"misspecification_score": result.score, "misspecification_p": result.p_value,
            "misspecification_flagged": bool(result.flagged)}
