"""The "inspect a file" command (``python -m mfnpe.recordings``, ``mfnpe-inspect``,
mfnpe.observation.inspect) on the three shared recordings and on written NWB files: its
numbers against the library's readers and the recorded spike counts, its errors, and the
amplitude errors that list the amplitudes a file has."""

import importlib
import io
import json
import subprocess
import sys
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from mfnpe.observation import inspect
from mfnpe.observation.passive import passive_card
from mfnpe.recordings.ephys import open_ephys, read_sweeps, write_nwb
from mfnpe.recordings.errors import AmplitudeNotFoundError
from mfnpe.simulation.features import spike_times

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "tests" / "data" / "recordings"
FILES = [RECORDINGS / name for name in ("171116sh_0019.abf", "18711001.abf", "18713001.abf")]
# recorded spikes in each sweep's stimulus window (docs/results.md, tests/test_recordings.py)
RECORDED_SPIKES = {"171116sh_0019.abf": {2: 3, 3: 6, 4: 9},
                   "18711001.abf": {10: 3, 20: 5, 29: 7},
                   "18713001.abf": {10: 3, 20: 8, 29: 9}}


def run_main(*args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the command, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = inspect.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def as_json() -> dict[str, dict]:
    """The ``--json`` output for the three shared files, by file name."""
    code, out, err = run_main("--json", *FILES)
    assert code == 0, err
    found = json.loads(out)
    assert [Path(f["path"]) for f in found] == FILES
    return {Path(f["path"]).name: f for f in found}


def test_python_m_mfnpe_recordings_prints_every_sweep_of_the_three_files():
    relative = [path.relative_to(ROOT) for path in FILES]  # as docs/recordings.md runs it
    run = subprocess.run([sys.executable, "-m", "mfnpe.recordings", *map(str, relative)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    for path, n_sweeps in zip(relative, (22, 30, 30)):
        assert f"{path}: {n_sweeps} sweep(s), current clamp" in run.stdout
    # one row per sweep: "  <index> current    20 <ms> ..."
    rows = [line.split() for line in run.stdout.splitlines()
            if line.split()[1:3] == ["current", "20"]]
    assert len(rows) == 22 + 30 + 30
    assert ("-100 pA at 23.4 ms for 300 ms; 100 pA at 823.4 ms for 500 ms"
            in run.stdout)  # 18711001's (and 18713001's) sweep 10
    assert run.stdout.count("passive card: ") == 3
    assert "3 pulse(s) of -100 pA in 2 sweep(s); 20 excluded" in run.stdout
    # docs/recordings.md, "Inspect a file", shows this output, trimmed: every line it keeps
    # is one of the command's, in order
    docs = (ROOT / "docs" / "recordings.md").read_text().split("## Inspect a file", 1)[1]
    block = docs.split("The three shared files, trimmed", 1)[1].split("```")[1]
    shown = [line for line in block.splitlines()[1:] if line.strip() != "…"]
    printed = iter(run.stdout.splitlines())
    assert len(shown) > 40
    assert [line for line in shown if line not in printed] == []  # a subsequence


def test_the_console_entry_point_is_the_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["mfnpe-inspect"].partition(":")
    assert getattr(importlib.import_module(module), name) is inspect.main


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_json_agrees_with_the_readers(as_json, path):
    found = as_json[path.name]
    with open_ephys(path) as ephys:
        assert found["amplitudes_pA"] == list(ephys.amplitudes())
        assert len(found["sweeps"]) == len(ephys.sweeps)
        for info, sweep in zip(ephys.sweeps, found["sweeps"]):
            protocol = ephys.protocol(info.index)
            assert sweep["index"] == info.index and sweep["error"] is None
            assert sweep["clamp"] == "current" and sweep["rate_hz"] == 20_000.0
            assert sweep["duration_ms"] == pytest.approx(info.duration_ms)
            assert sweep["holding_pA"] == protocol.holding == 0.0
            assert [(e["start_ms"], e["duration_ms"], e["amplitude_pA"])
                    for e in sweep["epochs"]] == [(e.start, e.duration, e.amplitude)
                                                  for e in protocol.epochs]
    # spikes and rest against the samples: rest the mean before the first epoch, the
    # window's count against the spike times and the recorded counts
    read = {s.index: s for s in read_sweeps(path, list(RECORDED_SPIKES[path.name]))}
    for index, recorded in RECORDED_SPIKES[path.name].items():
        sweep, samples = found["sweeps"][index], read[index]
        start, end = sweep["stimulus_window_ms"]
        spikes = spike_times(samples.voltage, samples.dt)
        assert sweep["spike_count"] == recorded == ((spikes >= start) & (spikes < end)).sum()
        assert sweep["spikes"] == len(spikes) >= recorded
        first = samples.protocol.epochs[0].start
        assert sweep["rest_mV"] == pytest.approx(
            samples.voltage[samples.time < first - 1e-9].mean(), abs=1e-3)
    card = passive_card(path)
    assert found["passive_card"] == json.loads(json.dumps(card.to_dict()))
    assert found["passive_note"] is None


def test_the_passive_card_is_the_librarys(as_json):
    # docs/recordings.md, "Passive card": 30, 30 and 3 pulses; 18711001's R_in 220 MΩ
    pulses = {name: len(f["passive_card"]["pulses"]) for name, f in as_json.items()}
    assert pulses == {"171116sh_0019.abf": 3, "18711001.abf": 30, "18713001.abf": 30}
    median = as_json["18711001.abf"]["passive_card"]["input_resistance_MOhm"]["median"]
    assert round(median) == 220


def test_a_bad_path_and_a_file_that_is_no_recording_are_named(tmp_path):
    missing, text, broken = tmp_path / "missing.abf", ROOT / "README.md", tmp_path / "cell.abf"
    broken.write_bytes(b"not an abf file at all" * 100)
    code, out, err = run_main(missing, text, broken, FILES[1])
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == f"error: {missing}: file does not exist"
    assert lines[1].startswith(f"error: {text}: unknown electrophysiology format '.md'")
    assert lines[2].startswith(f"error: {broken}: not a readable ABF file")
    assert len(lines) == 3
    assert f"{FILES[1]}: 30 sweep(s)" in out  # the readable file is still shown
    code, out, _ = run_main("--json", missing, FILES[1])
    found = json.loads(out)
    assert code == 1 and found[0] == {"path": str(missing),
                                      "error": f"{missing}: file does not exist"}
    assert len(found[1]["sweeps"]) == 30


def test_a_sweep_that_cannot_be_read_is_listed_with_its_reason(tmp_path):
    rate, n = 20_000.0, 2000  # 100 ms
    time = np.arange(n) * 1000.0 / rate
    voltage = np.full(n, -70.0)
    for t in (40.0, 50.0):  # two spikes in the step
        k = int(t * rate / 1000.0)
        voltage[k:k + 3] = [0.0, 20.0, 0.0]
    command = np.where((time >= 20.0 - 1e-9) & (time < 70.0 - 1e-9), 50.0, 0.0)
    path = write_nwb(tmp_path / "cell.nwb", [
        {"voltage": voltage, "command": command},
        {"voltage": np.zeros(n), "command": np.full(n, -70.0), "clamp": "voltage"},
        {"voltage": voltage, "command": None}], rate=rate)
    summary = inspect.inspect_recording(path)
    ok, clamped, no_command = summary.sweeps
    assert ok.error is None and ok.holding_pA == 0.0
    assert [(e.start, e.duration, e.amplitude) for e in ok.epochs] == [(20.0, 50.0, 50.0)]
    assert ok.spikes == ok.spike_count == 2 and ok.stimulus_window_ms == (20.0, 70.0)
    assert ok.rest_mV == pytest.approx(-70.0)
    assert clamped.clamp == "voltage" and "voltage-clamp" in clamped.error
    assert str(path) in no_command.error and "no stimulus series" in no_command.error
    assert summary.amplitudes_pA == (50.0,)
    assert summary.passive is None and "no hyperpolarising epoch" in summary.passive_note
    text = inspect.format_summary(summary)
    assert "not read: " in text and "passive card: none: no hyperpolarising epoch" in text


def test_the_amplitude_errors_list_the_files_amplitudes():
    path = FILES[0]
    listed = ", ".join(["-100"] + [str(100 * k) for k in range(1, 21)]) + " pA"
    with open_ephys(path) as ephys:
        assert ephys.amplitudes() == (-100.0, *(100.0 * k for k in range(1, 21)))
        assert ephys.find_or_raise(200.0) == [3]
        with pytest.raises(AmplitudeNotFoundError) as caught:
            ephys.find_or_raise(150.0)
        assert str(caught.value) == (f"{path}: no current-clamp sweep has an epoch at 150 pA; "
                                     f"its current-clamp sweeps' epochs are at {listed}")
        with pytest.raises(AmplitudeNotFoundError, match="commands at t = 10 ms are at 0 pA"):
            ephys.find_or_raise(5.0, at_ms=10.0)
    with pytest.raises(AmplitudeNotFoundError, match=f"150 pA; .* {listed}"):
        read_sweeps(path, amplitude_pA=150.0)
