"""Box prior and the (pool, shard)-keyed seeds."""

import numpy as np
import pytest

from mfnpe import seeds
from mfnpe.plan import shards
from mfnpe.plan.config import validate_config
from workflow_helpers import CONFIG_SCHEMA
from mfnpe.simulation.shard import sample_prior_shard
from mfnpe.prior import BoxPrior


def test_prior_draws_are_uniform_in_the_box():
    prior = BoxPrior.from_config({"gNa": [50.0, 200.0], "gL": [0.1, 1.0]})
    theta = prior.sample(200_000, np.random.default_rng(1))
    assert theta.shape == (200_000, 2) and prior.contains(theta).all()
    # uniform: mean (a+b)/2, variance (b-a)^2/12, to 5 standard errors
    for j, (lo, hi) in enumerate([(50.0, 200.0), (0.1, 1.0)]):
        sd = (hi - lo) / np.sqrt(12)
        assert abs(theta[:, j].mean() - (lo + hi) / 2) < 5 * sd / np.sqrt(len(theta))
        assert theta[:, j].var() == pytest.approx(sd**2, rel=0.01)
    assert not prior.contains(np.array([[40.0, 0.5]]))[0]


@pytest.mark.parametrize("bounds, message", [
    ({"gNa": [2.0, 1.0]}, r"prior/gNa: need finite low < high"),
    ({"gNa": [0.0, np.inf]}, r"prior/gNa"),
])
def test_prior_rejects_bad_bounds(bounds, message):
    with pytest.raises(ValueError, match=message):
        BoxPrior.from_config(bounds)


def test_prior_shards_are_reproducible_and_distinct_per_pool_and_shard():
    config = validate_config({}, CONFIG_SCHEMA)
    theta = {(pool, k): sample_prior_shard(shards.prior_settings(config, pool, k))[0]
             for pool in shards.POOLS for k in range(2)}
    again = sample_prior_shard(shards.prior_settings(config, "hf", 1))[0]
    assert np.array_equal(again, theta[("hf", 1)])
    rows = np.concatenate([t[:5] for t in theta.values()])
    assert len(np.unique(rows, axis=0)) == len(rows)  # no stream repeats another
    other_seed = dict(shards.prior_settings(config, "hf", 1), seed=1)
    assert not np.array_equal(sample_prior_shard(other_seed)[0], theta[("hf", 1)])


def test_simulation_seeds_depend_only_on_pool_shard_and_master_seed():
    a = seeds.simulation_seeds(0, "hf", 2, 100)
    assert a.dtype == np.uint32 and len(np.unique(a)) == 100
    assert np.array_equal(seeds.simulation_seeds(0, "hf", 2, 10), a[:10])
    assert not np.array_equal(seeds.simulation_seeds(0, "test", 2, 100), a)
    assert not np.array_equal(seeds.simulation_seeds(0, "hf", 3, 100), a)
    assert not np.array_equal(seeds.simulation_seeds(1, "hf", 2, 100), a)
