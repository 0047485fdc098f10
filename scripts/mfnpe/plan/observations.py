"""Which recordings the workflow observes and the settings each observation rule uses.

Light on purpose (no numpy): ``workflow/rules/observe.smk`` imports it. The recordings
are every ``*.h5``, ``*.hdf5`` and ``*.csv`` file in the config's ``observations/dir`` plus
the synthetic examples of ``observations/examples`` (simulated when missing). Settings
hold exactly what a rule's output depends on, so Snakemake's params trigger re-runs only
what a config edit touched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from mfnpe.names import RECORDING_SUFFIXES as SUFFIXES
from mfnpe.plan import runs, shards
from mfnpe.plan.config import simulator_settings

log = logging.getLogger(__name__)

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
"""A recording's name (its file stem) names its results: letters, digits, ``_`` and ``-``."""
PPC_METHODS = ("mf_npe", "npe")


def directory(config: Mapping) -> str:
    """The observations folder, relative to the working directory (no trailing slash)."""
    return str(PurePosixPath(config["observations"]["dir"]))


def example_path(config: Mapping, name: str) -> str:
    example = config["observations"]["examples"][name]
    return f"{directory(config)}/{name}.{example['format']}"


def recordings(config: Mapping) -> dict[str, str]:
    """``{name: path}`` of every recording: the files in the observations folder (now) and
    the configured examples, sorted by name. A file whose name is not a valid recording
    name (spaces, non-ASCII letters...) or that shares its name with another is skipped
    with a warning naming it: one odd file never blocks the workflow (``--unlock``
    included)."""
    found = {name: example_path(config, name) for name in config["observations"]["examples"]}
    folder = Path(directory(config))
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    for path in files:
        if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        shown = f"{directory(config)}/{path.name}"
        if not re.fullmatch(NAME_PATTERN, path.stem, flags=re.ASCII):
            log.warning("%s: skipped: a recording's file name may hold only letters, digits, "
                        "'_' and '-' (it names the recording's results); rename it", shown)
        elif found.setdefault(path.stem, shown) != shown:
            log.warning("%s: skipped: %s is also named %r; rename one", shown,
                        found[path.stem], path.stem)
    return dict(sorted(found.items()))


def example_pattern(config: Mapping) -> str:
    """Regex matching exactly the names of the configured examples (never, if none)."""
    names = [re.escape(name) for name in config["observations"]["examples"]]
    return "|".join(names) if names else "(?!)"


def example_settings(config: Mapping, name: str) -> dict:
    """Everything synthetic example ``name`` depends on: its parameters, the HF simulator,
    the model's fixed constants, the stimulus and the examples' seed."""
    example = config["observations"]["examples"][name]
    return {
        "name": name,
        "theta": dict(example["theta"]),
        "simulator": simulator_settings(config, "hf"),
        "model": {k: v for k, v in config["model"].items() if k not in config["prior"]},
        "stimulus": dict(config["stimulus"]),
        "seed": config["observations"]["seed"],
    }


def protocol(config: Mapping) -> dict:
    """What the trained posteriors assume of a recording: stimulus times [ms], amplitude
    [µA/cm²] (None when inferred) and sampling interval [ms] (the HF simulator's)."""
    amplitude = None if "amplitude" in config["prior"] else config["model"]["amplitude"]
    return {**config["stimulus"], "amplitude": amplitude,
            "dt": config["simulators"]["hf"]["dt"]}


def observe_settings(config: Mapping) -> dict:
    """What the posteriors of a recording depend on besides the recording: the protocol,
    the features, every model (run and settings), the draw count and the master seed."""
    return {
        "protocol": protocol(config),
        "features": list(config["features"]),
        "models": [{"run": run, "settings": runs.model_settings(config, **run)}
                   for run in runs.runs(config)],
        "posterior_samples": config["evaluation"]["posterior_samples"],
        "seed": config["seed"],
    }


def ppc_runs(config: Mapping) -> list[dict]:
    """The models of the predictive checks and observation pairplots: MF-NPE (largest LF
    size and HF budget) and NPE (largest HF budget), training seed 0."""
    n_lf, n_hf = max(config["budgets"]["n_lf"]), max(config["budgets"]["n_hf"])
    return [dict(method=method, n_lf=n_lf if method == "mf_npe" else 0, n_hf=n_hf, seed=0)
            for method in PPC_METHODS]


def predictive_settings(config: Mapping) -> dict:
    """What a recording's predictive check depends on besides its posterior draws."""
    observations = config["observations"]
    return {
        "protocol": protocol(config),
        "simulation": {**shards.simulation_settings(config, "test"),
                       "trace_dt": config["traces"]["dt"]},
        "runs": ppc_runs(config),
        "n_simulations": observations["ppc_simulations"],
        "n_traces": observations["ppc_traces"],
        "seed": config["seed"],
    }

