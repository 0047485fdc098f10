"""The structural checks that find broken intermediates before a run schedules anything."""

import os

import h5py
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
