"""The output folder (config key ``out``, mfnpe.plan.out_folder): the schema accepts and
rejects it, and a folder that is or holds an input, lies inside the recordings folder or
inside another run's output folder is refused, naming ``out``, before any job."""

from pathlib import Path

import pytest

from mfnpe.plan import observations, out_folder
from mfnpe.plan.config import ConfigError, distinct_paths, validate_config
from workflow_helpers import CONFIG_SCHEMA, config_check_tool

ROOT = Path(__file__).resolve().parents[1]


def config_with(**changes) -> dict:
    """The schema's defaults with ``changes`` at the top level, validated."""
    return validate_config({"observations": {"dir": None}, **changes}, CONFIG_SCHEMA)


def test_the_schema_defaults_out_to_results_and_accepts_a_folder():
    assert config_with()["out"] == "results"
    assert config_with(out="runs/exp-2")["out"] == "runs/exp-2"
    assert out_folder.folder(config_with(out="runs/exp-2/")) == "runs/exp-2"
    assert out_folder.folder(config_with(out="./runs//a")) == "runs/a"


@pytest.mark.parametrize("value, message", [
    ("", "config key out: '' should be non-empty"),
    (3, "config key out: 3 is not of type 'string'"),
    ("runs/{seed}", "config key out: 'runs/{seed}' does not match"),
])
def test_the_schema_rejects_a_bad_out(value, message):
    with pytest.raises(ConfigError, match="^" + message.replace("{", r"\{").replace("}", r"\}")):
        config_with(out=value)


def test_examples_are_simulated_under_the_output_folder():
    config = config_with(out="runs/a", observations={
        "dir": None, "examples": {"x": {"format": "csv", "theta": {"gNa": 100.0,
                                                                    "gK": 30.0, "gL": 0.3}}}})
    assert observations.example_path(config, "x") == "runs/a/recordings/x.csv"


def test_a_folder_beside_another_run_is_accepted_one_inside_it_is_refused(tmp_path,
                                                                             monkeypatch):
    run = tmp_path / "results"
    (run / "logs").mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    monkeypatch.chdir(tmp_path)
    assert out_folder.check(config_with(out="second"), []) == "second"
    assert out_folder.check(config_with(out="results"), []) == "results"  # its own rerun
    with pytest.raises(ConfigError, match=r"config key out='results/inner'.*lies inside "
                       r".*results, the output folder of another run"):
        out_folder.check(config_with(out="results/inner"), [])
    (run / "logs").rmdir()  # no logs/: a folder that merely holds a config.yaml
    assert out_folder.check(config_with(out="results/inner"), []) == "results/inner"


def test_a_folder_that_is_or_holds_an_input_or_lies_in_the_recordings_is_refused(
        tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "my.yaml").write_text("seed: 1\n")
    (tmp_path / "cells").mkdir()
    files = ["config/my.yaml"]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config key out='config/my.yaml'.*is the input "
                       "config/my.yaml"):
        out_folder.check(config_with(out="config/my.yaml"), files)
    for out in ("config", ".", str(tmp_path)):
        with pytest.raises(ConfigError, match="holds the input config/my.yaml"):
            out_folder.check(config_with(out=out), files)
    cells = config_with(out="cells/out", observations={"dir": "cells", "examples": {}})
    with pytest.raises(ConfigError, match="lies inside the input folder cells"):
        out_folder.check(cells, files)
    model = config_with(out="models")
    model["model"]["file"] = "models/mine.py"
    with pytest.raises(ConfigError, match="holds the input models/mine.py"):
        out_folder.check(model, files)
    assert out_folder.check(config_with(out="config-runs/a"), files) == "config-runs/a"


def test_the_config_check_tool_applies_and_checks_out_as_snakemake_config_does(capsys):
    tool = config_check_tool()
    default = ROOT / "config" / "config.yaml"
    assert tool.merged_config([default], out="elsewhere/x")["out"] == "elsewhere/x"
    assert tool.merged_config([default])["out"] == "results"
    with pytest.raises(ConfigError, match="holds the input"):
        tool.merged_config([default], out=str(ROOT / "config"))
    capsys.readouterr()
    assert tool.main([str(default), "--out", "elsewhere/x", "--print-out"]) == 0
    assert capsys.readouterr().out == "elsewhere/x\n"


def test_a_config_file_given_twice_is_listed_once(monkeypatch):
    """`make run` passes config/config.yaml, absolute, which the configfile: statement
    reads too: the startup line names it once."""
    absolute = ROOT / "config" / "config.yaml"
    monkeypatch.chdir(ROOT)
    assert distinct_paths(["config/config.yaml", absolute, "tests/configs/tiny.yaml",
                           absolute]) == ["config/config.yaml", "tests/configs/tiny.yaml"]


def test_a_folder_holding_a_further_cell_is_refused(tmp_path, monkeypatch):
    """stimulus/cells' files are inputs too, a glob's matches included."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "cells").mkdir(parents=True)
    (tmp_path / "runs" / "cells" / "c1.abf").write_bytes(b"")
    config = config_with(out="runs")
    config["stimulus"]["cells"] = ["runs/cells/*.abf"]
    with pytest.raises(ConfigError, match="holds the input runs/cells/c1.abf"):
        out_folder.check(config, [])
    assert out_folder.check(config_with(out="elsewhere"), []) == "elsewhere"
