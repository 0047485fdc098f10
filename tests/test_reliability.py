"""Nothing the workflow does loses a file: a dry run, ``--unlock``, ``--list``,
``--summary`` and a refused config change nothing on disk; a broken intermediate of any
kind is moved aside (never deleted) and made again with exactly its dependants; a folder
that is not writable is named."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from workflow_helpers import ROOT, SNAKEFILE, TINY, snakemake

from mfnpe.plan import integrity


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and modification time [ns]."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_dry_run_unlock_list_and_summary_change_nothing(copied_run):
    """A truncated shard (which a real run would move aside) and a user's own file under
    results/: neither is touched by -n, --unlock, --list, --list-rules or --summary."""
    results = copied_run / "results"
    shard = results / "sims/hf/shard-0.h5"
    shard.write_bytes(shard.read_bytes()[:100])
    (results / "mine").mkdir()
    (results / "mine/x.h5").write_bytes(b"x")
    before = snapshot(results)
    for args in (["-n"], ["--unlock"], ["--list"], ["--list-rules"], ["--summary"]):
        run = snakemake(copied_run, *args, "--cores", "1")
        assert run.returncode == 0, (args, run.stderr[-3000:])
        assert snapshot(results) == before, args
    dry = snakemake(copied_run, "-n", "--cores", "1")
    assert "results/sims/hf/shard-0.h5: truncated: 100 bytes" in dry.stdout + dry.stderr
    assert "results/mine/x.h5" not in dry.stdout + dry.stderr  # not the workflow's: not judged


def test_a_refused_config_changes_nothing(copied_run, tmp_path):
    """An observations folder inside results/ (refused) holding a truncated HDF5 file, with
    a truncated shard beside it: the refusal comes first, under -n and under a real run,
    and every file keeps its bytes and time."""
    results = copied_run / "results"
    mine = results / "my_recordings"
    mine.mkdir()
    (mine / "cell.h5").write_bytes((results / "sims/hf/shard-0.h5").read_bytes()[:100])
    shard = results / "sims/hf/shard-1.h5"
    shard.write_bytes(shard.read_bytes()[:100])
    config = yaml.safe_load(TINY.read_text())
    config["observations"]["dir"] = "results/my_recordings"
    refused = tmp_path / "refused.yaml"
    refused.write_text(yaml.safe_dump(config, sort_keys=False))
    before = snapshot(results)
    for args in (["-n"], []):
        run = snakemake(copied_run, *args, "--cores", "1", configfile=refused)
        output = run.stdout + run.stderr
        assert run.returncode != 0
        # the output folder's own check comes first: it holds an input (the recordings)
        assert "config key out='results'" in output, output[-3000:]
        assert "holds the input results/my_recordings" in output, output[-3000:]
        assert "truncated" not in output and "quarantine" not in output
        assert snapshot(results) == before


def _corrupt_one_of_each_kind(results: Path) -> dict[str, str]:
    """A truncated HF shard, a foreign HDF5 file as a posterior, a same-size overwrite
    inside a test-pool shard's data, a pickled object as a model: ``{path: expected
    message}``. The overwrite is in the test pool, whose dependants are evaluations (an LF
    shard would rebuild every LF-trained model, minutes more for the same check)."""
    shard = results / "sims/hf/shard-1.h5"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with h5py.File(results / "observations/tiny-1/posterior.h5", "w") as handle:
        handle["samples"] = np.zeros((3, 3))
    test = results / "sims/test/shard-1.h5"
    with h5py.File(test, "r") as handle:
        offset = handle["x"].id.get_offset()
    size = test.stat().st_size
    with open(test, "r+b") as handle:
        handle.seek(offset + 64)
        handle.write(bytes(range(16)))
    assert test.stat().st_size == size
    torch.save(torch.nn.Linear(2, 2), results / "models/npe/nlf-0_nhf-20_seed-0.pt")
    return {
        "results/sims/hf/shard-1.h5": "truncated",
        "results/observations/tiny-1/posterior.h5": "holds kind None",
        "results/sims/test/shard-1.h5": "dataset 'x' no longer matches the checksum",
        "results/models/npe/nlf-0_nhf-20_seed-0.pt": "does not load as weights only",
    }


def _mtimes(results: Path) -> dict[str, int]:
    return {str(path.relative_to(results)): path.stat().st_mtime_ns
            for path in results.rglob("*") if path.is_file()
            and not str(path.relative_to(results)).startswith(("logs/", "benchmarks/",
                                                                 "quarantine/"))}


def test_every_kind_of_broken_file_is_moved_aside_and_made_again(copied_run, tiny_run):
    """One plain run names each fault, moves each file to results/quarantine/ (bytes
    unchanged, reason logged), rebuilds exactly those files and their dependants, leaves
    every other output's time unchanged, and the tables come out the same."""
    results = copied_run / "results"
    before = _mtimes(results)
    faults = _corrupt_one_of_each_kind(results)
    broken_bytes = {path: (copied_run / path).read_bytes() for path in faults}

    run = snakemake(copied_run, "--cores", "2")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    for path, message in faults.items():
        assert f"{path}: {message}" in output, (path, output[-3000:])
        assert f"{path}: moved to results/quarantine/" in output

    # moved, never deleted: every broken file's bytes are in the quarantine, logged
    log = (results / "quarantine/quarantine.log").read_text().splitlines()
    assert len(log) == len(faults)
    for line in log:
        _, source, target, reason = line.split("\t")
        assert (copied_run / target).read_bytes() == broken_bytes[source]
        assert faults[source].split(":")[0] in reason

    after = _mtimes(results)
    assert set(after) == set(before)
    rebuilt = {path for path in before if after[path] != before[path]}
    broken = {path.removeprefix("results/") for path in faults}
    assert broken <= rebuilt
    # the dependants: every model of the 40-simulation HF budget (HF shard 1), every
    # evaluation (test shard 1), the recordings' results, tables and figures
    dependants = ("models/", "eval/", "observations/", "summary/", "figures/", "report.rst")
    assert all(path.startswith(dependants) for path in rebuilt - broken), sorted(rebuilt)
    assert {path for path in before if path.startswith("eval/")} <= rebuilt
    assert {"models/mf_npe/nlf-400_nhf-40_seed-1.pt", "models/npe/nlf-0_nhf-40_seed-0.pt",
            "models/npe/nlf-0_nhf-20_seed-0.pt"} <= rebuilt
    kept = set(before) - rebuilt
    assert {"sims/lf/shard-0.h5", "sims/lf/shard-1.h5", "sims/hf/shard-0.h5",
            "sims/test/shard-0.h5", "models/npe/nlf-0_nhf-20_seed-1.pt",
            "models/lf_npe/nlf-400_nhf-0_seed-0.pt", "models/mf_npe/nlf-400_nhf-20_seed-1.pt",
            "recordings/tiny-1.h5"} <= kept
    assert not any(path.startswith("prior/") for path in rebuilt)
    for table in ("metrics", "table", "calibration", "observations"):
        healed = pd.read_csv(results / f"summary/{table}.csv")
        assert healed.equals(pd.read_csv(tiny_run / f"results/summary/{table}.csv")), table

    again = snakemake(copied_run, "-n", "--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_folder_that_is_not_writable_is_named(tiny_run):
    """Run as an unprivileged user (root writes anywhere): a broken shard under a results/
    that user cannot write stops the run before any job with a message naming the folder,
    and the file stays where it was."""
    if os.getuid() != 0:
        pytest.skip("needs root to run the workflow as another user")
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="mfnpe-readonly-"))  # pytest's tmp is root-only
    try:
        os.chmod(base, 0o755)
        workdir, home = base / "run", base / "home"
        shutil.copytree(tiny_run, workdir, symlinks=True)
        home.mkdir()
        results = workdir / "results"
        shard = results / "sims/hf/shard-0.h5"
        shard.write_bytes(shard.read_bytes()[:100])
        for path in [workdir, *workdir.rglob("*"), home]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
        os.chmod(results, 0o555)  # the quarantine cannot be made in results/
        command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups", sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE),
                   "--configfile", str(TINY), "-d", str(workdir), "--cores", "1"]
        env = {**os.environ, "HOME": str(home), "NUMBA_CACHE_DIR": str(home / "numba"),
               "MPLCONFIGDIR": str(home / "mpl"), "XDG_CACHE_HOME": str(home / "cache")}
        run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
        output = run.stdout + run.stderr
        assert run.returncode != 0
        assert "results/sims/hf/shard-0.h5 is broken (truncated" in output, output[-3000:]
        assert "The folder results is not writable" in output, output[-3000:]
        assert "Traceback" not in output
        assert shard.read_bytes()[:100] == (tiny_run / "results/sims/hf/shard-0.h5"
                                            ).read_bytes()[:100]
        assert shard.stat().st_size == 100 and not (results / "quarantine").exists()
    finally:
        os.chmod(base / "run/results", 0o755)
        shutil.rmtree(base)


def test_quarantine_keeps_the_path_under_results_and_logs_the_reason(tmp_path):
    results = tmp_path / "results"
    (results / "sims/hf").mkdir(parents=True)
    (results / "sims/hf/shard-0.h5").write_bytes(b"abc")
    moved = integrity.quarantine({str(results / "sims/hf/shard-0.h5"): "truncated: 3 bytes"},
                                 results, stamp="20260101-000000")
    target = results / "quarantine/20260101-000000/sims/hf/shard-0.h5"
    assert [m.target for m in moved] == [target.as_posix()]
    assert target.read_bytes() == b"abc" and not (results / "sims/hf/shard-0.h5").exists()
    assert (results / "quarantine/quarantine.log").read_text().rstrip().endswith(
        "\ttruncated: 3 bytes")


def test_only_files_at_the_workflow_paths_are_judged(tmp_path):
    results = tmp_path / "results"
    for name in ("sims/hf/shard-0.h5", "mine/x.h5", "sims/hf/notes.txt",
                 "quarantine/20260101-000000/sims/hf/shard-0.h5"):
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_bytes(b"x")
    found = integrity.workflow_files(results.as_posix(), {
        f"{results.as_posix()}/sims/{{pool}}/shard-{{shard}}.h5": "mfnpe/sim-shard/1"})
    assert found == {f"{results.as_posix()}/sims/hf/shard-0.h5": "mfnpe/sim-shard/1"}
