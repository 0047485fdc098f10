"""HDF5 shards: round trip, and clear errors for truncated, foreign or mismatched files."""

from pathlib import Path

import numpy as np
import pytest

from mfnpe.io.hdf5 import ShardError
from mfnpe.io.shards import SimShard, read_prior_shard, read_sim_shard, write_prior_shard, write_sim_shard

SETTINGS = {"seed": 0, "pool": "hf", "shard": 3, "simulator": {"name": "markov", "dt": 0.01}}


def make_shard(traces=True):
    rng = np.random.default_rng(0)
    return SimShard(
        theta=rng.random((5, 3)), x=rng.random((5, 4)), valid=np.array([1, 1, 0, 1, 1], bool),
        param_names=["gNa", "gK", "gL"], feature_names=["a", "b", "c", "d"], settings=SETTINGS,
        stats={"wall_time_s": 1.5}, traces=rng.random((5, 7)).astype(np.float32) if traces else None,
        trace_dt=0.1 if traces else None,
    )


def test_sim_shard_round_trip(tmp_path):
    shard = make_shard()
    write_sim_shard(tmp_path / "s.h5", shard)
    back = read_sim_shard(tmp_path / "s.h5", expected_settings=SETTINGS)
    for name in ("theta", "x", "valid", "traces"):
        assert np.array_equal(getattr(back, name), getattr(shard, name))
    assert back.param_names == shard.param_names and back.feature_names == shard.feature_names
    assert back.trace_dt == 0.1 and back.stats == {"wall_time_s": 1.5}
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_prior_shard_round_trip(tmp_path):
    theta = np.arange(6.0).reshape(3, 2)
    write_prior_shard(tmp_path / "p.h5", theta, ["gNa", "gK"], SETTINGS)
    back, names, settings = read_prior_shard(tmp_path / "p.h5", SETTINGS)
    assert np.array_equal(back, theta) and names == ["gNa", "gK"] and settings == SETTINGS


def test_truncated_shard_names_the_file(tmp_path):
    path = tmp_path / "shard-0.h5"
    write_sim_shard(path, make_shard())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match=r"shard-0\.h5.*(truncated|corrupted)"):
        read_sim_shard(path)


def test_shard_from_another_config_names_file_and_key(tmp_path):
    path = tmp_path / "shard-3.h5"
    write_sim_shard(path, make_shard())
    other = {**SETTINGS, "simulator": {"name": "markov", "dt": 0.02}}
    with pytest.raises(ShardError, match=r"shard-3\.h5 was written under another config: simulator/dt is 0.01"):
        read_sim_shard(path, expected_settings=other)


def test_wrong_kind_and_missing_file(tmp_path):
    write_prior_shard(tmp_path / "p.h5", np.zeros((2, 1)), ["gNa"], SETTINGS)
    with pytest.raises(ShardError, match=r"p\.h5: expected a file of kind 'mfnpe/sim-shard/1'"):
        read_sim_shard(tmp_path / "p.h5")
    with pytest.raises(ShardError, match=r"nothing\.h5: file does not exist"):
        read_sim_shard(tmp_path / "nothing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ShardError, match=r"text\.h5: not a readable HDF5 file"):
        read_prior_shard(tmp_path / "text.h5")


def test_a_summary_table_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    import pandas as pd

    from mfnpe.io.tables import write_csv

    path = tmp_path / "summary" / "table.csv"
    write_csv(pd.DataFrame({"a": [1, 2]}), path)
    assert path.read_text() == "a\n1\n2\n"

    def fail_midway(self, target, **kwargs):
        Path(target).write_text("a\n3\n")  # half written, then the job dies
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        write_csv(pd.DataFrame({"a": [3, 4]}), path)
    assert path.read_text() == "a\n1\n2\n"  # the old table, intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.csv"]  # no temporary left


def test_a_pool_prefix_is_read_from_its_leading_shards_each_checked_against_the_plan(tmp_path):
    from mfnpe.plan.runs import pool_label, prefix_shard_settings
    from mfnpe.simulation.pools import load_prefix

    data = {"pool": "hf", "n": 7, "prior": {"gNa": [50.0, 150.0]}, "seed": 0, "shard_size": 5,
            "simulation": {"simulator": {"name": "markov", "dt": 0.01}}}
    expected = prefix_shard_settings(data)
    assert [s["shard"] for s in expected] == [0, 1]  # 7 simulations: two shards of 5
    assert expected[1] == {"prior": {"gNa": [50.0, 150.0]}, "seed": 0, "pool": "hf", "shard": 1,
                           "shard_size": 5, "simulator": {"name": "markov", "dt": 0.01}}
    paths = []
    for k, settings in enumerate([*expected, {**expected[1], "shard": 2}]):
        shard = make_shard(traces=False)
        shard.settings, shard.theta = settings, shard.theta + 10 * k
        paths.append(tmp_path / f"{k}.h5")
        write_sim_shard(paths[-1], shard)
    data_set = load_prefix(paths, expected, data["n"], pool_label(data))
    # rows 0-4 of shard 0 and 0-1 of shard 1; row 2 of shard 0 is invalid and dropped
    assert data_set.n == 7 and data_set.n_invalid == 1 and data_set.theta.shape == (6, 3)
    assert data_set.theta[-1, 0] == make_shard().theta[1, 0] + 10
    with pytest.raises(ShardError, match=r"^hf pool: 7 simulations need 2 shards, got 1$"):
        load_prefix(paths[:1], expected, data["n"], pool_label(data))
    with pytest.raises(ShardError, match="shard"):  # shard 1's file holds shard 2
        load_prefix([paths[0], paths[2]], expected, data["n"], pool_label(data))
