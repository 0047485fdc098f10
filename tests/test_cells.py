"""Many cells, one network: further cells of a recording stimulus (``stimulus/cells``) are
found by file or glob, their sweeps chosen as the recording's are and checked against its
protocol at startup, and each is an observation with its own sweep indices."""

import shutil

import numpy as np
import pytest

from mfnpe.plan import observations
from mfnpe.plan import sequential as sequential_runs
from mfnpe.plan.config import ConfigError, resolve_cells, resolve_recording, validate_config
from mfnpe.recordings.stimulus import resolve, resolve_cells as read_cells
from recording_files import shuffled_copy
from workflow_helpers import CONFIG_SCHEMA, ROOT

DATA = ROOT / "tests" / "data" / "recordings"
FIRST, SECOND = DATA / "18711001.abf", DATA / "18713001.abf"  # one protocol, two cells
WINDOW = [0.0, 1400.0]


def _config(tmp_path, cells, **choice):
    """A validated config over 18711001's sweeps at 100, 200, 290 pA (or ``choice``), its
    protocols and the cells' sweeps resolved, in a working directory holding the files."""
    folder = tmp_path / "cells"
    folder.mkdir(exist_ok=True)
    for source in (FIRST, SECOND):
        if not (folder / source.name).exists():
            shutil.copy(source, folder / source.name)
    choice = choice or {"amplitudes_pA": [100.0, 200.0, 290.0]}
    config = validate_config({"stimulus": {"recording": "cells/18711001.abf", **choice,
                                           "window_ms": WINDOW, "cells": cells},
                              "observations": {"dir": None}}, CONFIG_SCHEMA)
    resolve_recording(config, [], resolve)
    resolve_cells(config, [], observations.cell_files, read_cells)
    return config


def test_a_glob_names_every_further_cell_and_skips_the_recording_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, ["cells/*.abf"])
    assert observations.cell_files(config) == {"18713001": "cells/18713001.abf"}
    assert observations.recordings(config) == {"18711001": "cells/18711001.abf",
                                               "18713001": "cells/18713001.abf"}
    # same protocol, same sweeps: the cell's protocol is the recording's
    assert config["stimulus"]["cell_sweeps"] == {"18713001": [10, 20, 29]}
    assert observations.protocol(config, "18713001") == observations.protocol(config)
    assert (observations.observe_settings(config, "18713001")
            == observations.observe_settings(config, "18711001"))


def test_a_cell_whose_sweeps_sit_elsewhere_is_found_by_amplitude(tmp_path, monkeypatch):
    """The same three sweeps written in another order (290, 100, 200 pA): found by their
    currents, with the file's own indices in every setting the cell's jobs read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "more").mkdir()
    shuffled_copy(SECOND, tmp_path / "more" / "reordered.nwb", [29, 10, 20])
    config = _config(tmp_path, ["more/reordered.nwb"])
    assert config["stimulus"]["cell_sweeps"] == {"reordered": [1, 2, 0]}
    own = observations.protocol(config, "reordered")
    reference = observations.protocol(config)
    assert [p["sweep"] for p in own["protocols"]] == [1, 2, 0]
    assert ([{**p, "sweep": 0} for p in own["protocols"]]
            == [{**p, "sweep": 0} for p in reference["protocols"]])
    assert observations.predictive_settings(config, "reordered")["protocol"] == own
    assert sequential_runs.chain_settings(config, "reordered", "tsnpe", 0)["protocol"] == own
    # the observation jobs read it: the file's sweeps, checked against the trained protocol
    from mfnpe.recordings.sweeps import read_observed
    recording = read_observed("more/reordered.nwb", own)
    assert recording.sweeps == [1, 2, 0]
    in_file_order = {**own, "protocols": [{**p, "sweep": k} for k, p in
                                          enumerate(reference["protocols"])]}
    with pytest.raises(ValueError, match="sweep 0: .*not the one the posteriors were trained"):
        read_observed("more/reordered.nwb", in_file_order)  # its sweep 0 is the 290 pA one


def test_a_cell_with_another_protocol_is_refused_naming_file_and_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "more").mkdir()
    shuffled_copy(SECOND, tmp_path / "more" / "other.nwb", [11, 21, 28])  # 110, 210, 280 pA
    with pytest.raises(ConfigError, match=r"stimulus/cells.*other\.nwb: sweep 0 .*is not the "
                                          r"stimulus's"):
        _config(tmp_path, ["more/other.nwb"], sweeps=[0, 1, 2])  # 0, 10, 20 pA in 18711001


@pytest.mark.parametrize("cells, message", [
    (["nowhere/*.abf"], "no file matches it"),
    (["cells/missing.abf"], "no file matches it"),
    (["notes.txt"], "is not an ABF or NWB file"),
    (["odd name.abf"], "may hold only letters"),
])
def test_bad_cells_are_refused_before_any_job(tmp_path, monkeypatch, cells, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("")
    shutil.copy(SECOND, tmp_path / "odd name.abf")
    with pytest.raises(ConfigError, match=rf"stimulus/cells/0=.*{message}"):
        _config(tmp_path, cells)


def test_two_cells_of_one_name_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    shutil.copy(SECOND, tmp_path / "a" / "18713001.abf")
    with pytest.raises(ConfigError, match="would both be results/observations/18713001/"):
        _config(tmp_path, ["cells/18713001.abf", "a/18713001.abf"])


def test_cells_need_a_recording_stimulus():
    config = validate_config({"stimulus": {"cells": ["x.abf"]}}, CONFIG_SCHEMA)
    with pytest.raises(ConfigError, match="stimulus/cells: further cells share the sweeps"):
        observations.cell_files(config)


def test_the_population_figure_has_a_panel_per_parameter_and_a_violin_per_cell():
    """Log axis for a log-uniform parameter, the prior's range as the limits, one violin
    per cell in name order, a cross at the known theta only where there is one."""
    from matplotlib.collections import PolyCollection
    from mfnpe.plots.cells import population
    from mfnpe.prior import BoxPrior

    prior = BoxPrior.from_config({"gNa": [10.0, 100.0],
                                  "area": {"low": 1000.0, "high": 30000.0, "scale": "log"}})
    rng = np.random.default_rng(0)
    samples = {name: np.column_stack([rng.uniform(40, 60, 300), rng.uniform(2000, 9000, 300)])
               for name in ("cell-b", "cell-a", "example")}
    truths = {"cell-a": None, "cell-b": None, "example": np.array([50.0, 4000.0])}
    fig = population(samples, truths, prior)
    gna, area = fig.axes[:2]
    assert gna.get_xscale() == "linear" and area.get_xscale() == "log"
    assert gna.get_xlim() == pytest.approx((10.0, 100.0))
    assert area.get_xlim() == pytest.approx((1000.0, 30000.0))
    assert [t.get_text() for t in gna.get_yticklabels()] == ["cell-a", "cell-b", "example"]
    assert sum(isinstance(c, PolyCollection) for c in area.collections) == 3
    crosses = [c for c in area.collections if c.get_offsets().shape == (1, 2)
               and not isinstance(c, PolyCollection)]
    assert len(crosses) == 1 and tuple(crosses[0].get_offsets()[0]) == (4000.0, 2.0)


def test_the_slurm_profile_groups_each_cells_jobs_into_one_component():
    """A cell's own rules (posterior and verdict, predictive check, its two figures) share
    one SLURM group, with a component count; every grouped rule exists."""
    import re

    import yaml

    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    rules = set(re.findall(r"^rule (\w+):", "".join(
        p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk")), flags=re.M))
    cell = {rule for rule, group in profile["groups"].items() if group == "cell"}
    assert cell == {"observe", "predictive_check", "figure_observation_pairplot",
                    "figure_observation_ppc"}
    assert set(profile["groups"]) <= rules
    assert set(profile["groups"].values()) == set(profile["group-components"])
