"""The output folder of one experiment (config key ``out``, default ``results``): every file
the workflow writes lies under it, so two configs with different folders run in one
checkout without touching each other's files. Inputs (config files, recordings, a model
file) stay relative to the working directory, never to this folder.

Light on purpose (no numpy): the Snakefile imports it at parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from mfnpe.plan.config import ConfigError, matching_files

EFFECTIVE_CONFIG = "config.yaml"
"""The config a run used, written at its start under the output folder."""
LOGS = "logs"
"""Every job's log folder under the output folder."""


def folder(config: Mapping) -> str:
    """``config["out"]`` as a clean POSIX path without trailing slash (``results/`` and
    ``./results`` are ``results``); absolute or relative to the working directory."""
    return str(PurePosixPath(str(config["out"])))


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is an existing run's output folder: it holds the run's effective
    config (:data:`EFFECTIVE_CONFIG`) and its jobs' logs (:data:`LOGS`)."""
    path = Path(path)
    return (path / EFFECTIVE_CONFIG).is_file() and (path / LOGS).is_dir()


def inputs(config: Mapping, config_files: Sequence[str | Path]) -> list[str]:
    """Every path the workflow reads that a config names: the config files, the
    recordings folder (``observations/dir``), a recording stimulus and its further cells
    (``stimulus/cells``: the files they match) and a model file."""
    found = [str(path) for path in config_files]
    if config["observations"].get("dir") is not None:
        found.append(str(config["observations"]["dir"]))
    if config["stimulus"].get("recording") is not None:
        found.append(str(config["stimulus"]["recording"]))
    for entry in config["stimulus"].get("cells") or []:
        found += [str(path) for path in matching_files(entry)]
    if config["model"].get("file") is not None:
        found.append(str(config["model"]["file"]))
    return found


def check(config: Mapping, config_files: Sequence[str | Path]) -> str:
    """The output folder (:func:`folder`), checked before any job.

    Raises
    ------
    ConfigError naming ``out`` when the folder holds braces (they would be read as
    wildcards), is or holds an input of :func:`inputs` (or lies inside the recordings
    folder), or lies inside another run's output folder (:func:`is_run_folder`: that run
    would judge, move aside or clean up this one's files).
    """
    out = folder(config)
    key = (f"config key out={out!r} (the output folder; `make run OUT=...` sets it as "
           "--config out=...)")
    if "{" in out or "}" in out:
        raise ConfigError(f"{key}: holds braces, which would be read as wildcards of the paths")
    here = Path(out).resolve()
    for path in inputs(config, config_files):
        source = Path(path).resolve()
        if here == source:
            raise ConfigError(f"{key}: is the input {path}; the workflow writes and "
                              "heals its output folder: choose a folder of its own")
        if here in source.parents:
            raise ConfigError(f"{key}: holds the input {path}; the workflow writes and "
                              "heals its output folder: choose a folder of its own")
        if source.is_dir() and source in here.parents:
            raise ConfigError(f"{key}: lies inside the input folder {path}; choose a "
                              "folder of its own")
    for parent in here.parents:
        if is_run_folder(parent):
            raise ConfigError(f"{key}: lies inside {parent}, the output folder of another "
                              f"run (it holds {EFFECTIVE_CONFIG} and {LOGS}/); choose a "
                              "folder beside it, not inside it")
    return out
