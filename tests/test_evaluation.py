"""evaluate_posterior on exact and miscalibrated Gaussian posteriors; the file round trip."""

import json

import h5py
import numpy as np
import pytest
from scipy import stats

from mfnpe.evaluation.test_set import evaluate_posterior, read_evaluation, write_evaluation
from mfnpe.io.hdf5 import CHECKSUMS, ShardError, checksums
from mfnpe.prior import BoxPrior

NOISE = 0.7  # theta ~ N(0, I), x = theta + NOISE eps: posterior N(x / (1 + s^2), s^2 / (1 + s^2))


class GaussianPosterior:
    """The conjugate posterior, with its SD multiplied by ``scale`` (exact for 1). The box
    prior only gives the bounds and widths the metrics scale by."""

    prior = BoxPrior(("a", "b"), [-4.0, -4.0], [4.0, 4.0])

    def __init__(self, scale: float):
        self.sd = scale * np.sqrt(NOISE**2 / (1 + NOISE**2))

    def log_prob(self, theta, x):
        return stats.norm.logpdf(theta, x / (1 + NOISE**2), self.sd).sum(axis=1)

    def sample(self, x, n, seed):
        rng = np.random.default_rng(seed)
        return x[None] / (1 + NOISE**2) + self.sd * rng.normal(size=(n, *x.shape))


def _pairs(m=400, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(m, 2))
    return theta, theta + NOISE * rng.normal(size=(m, 2))


@pytest.mark.parametrize("scale, passes", [(1.0, 1.0), (0.6, 0.0)])
def test_calibration_pass_of_exact_and_overconfident_posteriors(scale, passes):
    theta, x = _pairs()
    evaluation = evaluate_posterior(GaussianPosterior(scale), theta, x, 200, keep=2, seed=3,
                                    level=0.05)
    summary = evaluation.metrics
    assert summary["calibration_pass"] == passes
    assert (summary["tarp_p"] >= 0.05 / 3) == bool(passes)
    assert (summary["tarp_atc"] < -0.03) == (not passes)
    assert evaluation.tarp_coverage.shape == (400,)


def test_evaluation_file_round_trip_checks_the_coverage_shape(tmp_path):
    theta, x = _pairs(m=50)
    evaluation = evaluate_posterior(GaussianPosterior(1.0), theta, x, 100, keep=2, seed=0,
                                    level=0.05)
    path = tmp_path / "eval.h5"
    write_evaluation(path, evaluation)
    again = read_evaluation(path)
    np.testing.assert_array_equal(again.tarp_coverage, evaluation.tarp_coverage)
    assert again.metrics == evaluation.metrics
    with h5py.File(path, "r+") as handle:
        del handle["tarp_coverage"]
        handle["tarp_coverage"] = evaluation.tarp_coverage[:-1]
    # changed on disk: the checksums written with the file name it first
    with pytest.raises(ShardError, match="dataset 'tarp_coverage' does not match the checksum"):
        read_evaluation(path)
    with h5py.File(path, "r+") as handle:  # as a writer would have written it: checksums agree
        handle.attrs[CHECKSUMS] = json.dumps(checksums(handle))
    with pytest.raises(ShardError, match=r"tarp_coverage has shape \(49,\), expected \(50,\)"):
        read_evaluation(path)
