"""The structural checks that find broken intermediates before a run schedules anything."""

import os

import h5py
import pytest
import numpy as np
import torch

from mfnpe.plan import integrity


def test_whole_files_pass_and_broken_ones_are_named(tmp_path):
    shard = tmp_path / "shard.h5"
    with h5py.File(shard, "w") as handle:
        handle["x"] = np.arange(10_000.0)
    model = tmp_path / "model.pt"
    torch.save({"w": torch.arange(1000.0)}, model)
    assert integrity.broken([shard, model, tmp_path / "missing.h5"]) == {}

    truncated, garbage, cut_model, empty = (tmp_path / n for n in
                                            ("t.h5", "g.pt", "c.pt", "e.h5"))
    truncated.write_bytes(shard.read_bytes()[: shard.stat().st_size - 100])
    garbage.write_bytes(os.urandom(4096))
    data = bytearray(model.read_bytes())
    data[200:400] = os.urandom(200)  # a damaged member
    cut_model.write_bytes(bytes(data))
    empty.write_bytes(b"")
    found = integrity.broken([truncated, garbage, cut_model, empty, shard])
    assert set(found) == {str(truncated), str(garbage), str(cut_model), str(empty)}
    assert found[str(truncated)].startswith("truncated:")
    assert found[str(garbage)] == "not a model file (torch saves a zip archive)"
    assert found[str(empty)] == "empty"
    assert "not an HDF5 file" in integrity.fault(_write(tmp_path / "text.h5", b"hello" * 20))


def _write(path, data):
    path.write_bytes(data)
    return path


def test_the_deep_check_names_a_foreign_kind_a_changed_byte_and_a_pickled_model(tmp_path):
    from mfnpe.io import kinds
    from mfnpe.io.shards import SimShard, write_sim_shard

    shard = tmp_path / "shard.h5"
    write_sim_shard(shard, SimShard(theta=np.zeros((50, 2)), x=np.arange(500.0).reshape(50, 10),
                                    valid=np.ones(50, bool), param_names=["a", "b"],
                                    feature_names=[f"f{k}" for k in range(10)],
                                    settings={"seed": 1}))
    assert integrity.fault(shard, kinds.SIM_SHARD) is None
    assert "holds kind 'mfnpe/sim-shard/1' where this workflow writes 'mfnpe/prior-shard/1'" \
        in integrity.fault(shard, kinds.PRIOR_SHARD)

    with h5py.File(shard, "r") as handle:
        offset = handle["x"].id.get_offset()
    changed = tmp_path / "changed.h5"
    data = bytearray(shard.read_bytes())
    data[offset + 8] ^= 0xFF  # one flipped byte inside x, the size unchanged
    changed.write_bytes(bytes(data))
    assert integrity.fault(changed, kinds.SIM_SHARD, deep=False) is None  # structure is whole
    assert integrity.fault(changed, kinds.SIM_SHARD) == (
        "dataset 'x' no longer matches the checksum written with the file (changed on disk)")

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["x"] = np.arange(3)
    assert integrity.fault(foreign, kinds.SIM_SHARD).startswith("holds kind None")

    pickled, legacy = tmp_path / "pickled.pt", tmp_path / "legacy.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a zip whose pickle needs code to load
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    assert integrity.fault(pickled, kinds.MODEL).startswith("does not load as weights only")
    assert integrity.fault(legacy, kinds.MODEL) == "not a model file (torch saves a zip archive)"
    weights = tmp_path / "weights.pt"
    torch.save({"kind": "something else", "w": torch.zeros(2)}, weights)
    assert "where this workflow writes a model of kind" in integrity.fault(weights, kinds.MODEL)
    torch.save({"kind": kinds.MODEL, "w": torch.zeros(2)}, weights)
    assert integrity.fault(weights, kinds.MODEL) is None


def test_a_reader_refuses_data_that_changed_on_disk(tmp_path):
    from mfnpe.io.hdf5 import ShardError
    from mfnpe.io.shards import read_prior_shard, write_prior_shard

    path = tmp_path / "prior.h5"
    write_prior_shard(path, np.arange(20.0).reshape(10, 2), ["a", "b"], {"seed": 3})
    assert read_prior_shard(path)[0].sum() == 190.0
    with h5py.File(path, "r") as handle:
        offset = handle["theta"].id.get_offset()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="prior.h5: dataset 'theta' does not match the checksum"):
        read_prior_shard(path)
