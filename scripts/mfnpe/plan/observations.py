"""Which recordings the workflow observes and the settings each observation rule uses.

Light on purpose (no numpy): ``workflow/rules/observe.smk`` imports it. The recordings
are every ``*.h5``, ``*.hdf5`` and ``*.csv`` file in the config's ``observations/dir`` (the
user's: only ever read) plus the synthetic examples of ``observations/examples``, which the
workflow simulates into its own folder (:func:`examples_folder`, under the output folder
``out``). Under a recording
stimulus (``stimulus/recording``) that file is a recording too, the examples are simulated
under its sweeps, and the folder's single-step files are skipped with a warning. Settings hold
exactly what a rule's output depends on, so Snakemake's params trigger re-runs only what a
config edit touched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from mfnpe.names import EPHYS_SUFFIXES, RECORDING_SUFFIXES as SUFFIXES
from mfnpe.stimulus.sweeps import is_recording, simulation_stimulus, stimulus_names
from mfnpe.plan import out_folder, runs, shards
from mfnpe.plan.config import ConfigError, matching_files
from mfnpe.simulation.experiment import ExperimentSimulation

log = logging.getLogger(__name__)

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
"""A recording's name (its file stem) names its results: letters, digits, ``_`` and ``-``."""
PPC_METHODS = ("mf_npe", "npe")
EXAMPLE_SIMULATION_KEYS = ("simulator", "model", "stimulus")
"""The parts of :func:`example_experiment`'s plain form an example's settings hold."""


def examples_folder(config: Mapping) -> str:
    """Where the synthetic examples are simulated (``{name}.{format}``): ``recordings``
    under the output folder (``out``); the workflow owns it."""
    return f"{out_folder.folder(config)}/recordings"


def directory(config: Mapping) -> str | None:
    """The folder of the user's recordings as configured (no trailing slash; absolute or
    relative to the working directory), or None: no folder, the examples only."""
    folder = config["observations"]["dir"]
    return None if folder is None else str(PurePosixPath(folder))


def example_path(config: Mapping, name: str) -> str:
    """The file synthetic example ``name`` is simulated into:
    ``examples_folder/name.format``."""
    example = config["observations"]["examples"][name]
    return f"{examples_folder(config)}/{name}.{example['format']}"


def check_directory(config: Mapping) -> Path | None:
    """The user's recordings folder, checked on disk (None when ``observations/dir`` is
    null). Absolute paths and paths with ``..`` are fine: the folder is only read.

    Raises
    ------
    ConfigError naming ``observations/dir`` when the folder lies inside the output folder
    ``out`` (the workflow writes there and moves aside files it cannot read), does not exist
    or is no folder.
    """
    folder = directory(config)
    if folder is None:
        return None
    key = f"config key observations/dir={folder!r}"
    path = Path(folder)
    out = out_folder.folder(config)
    results = Path(out).resolve()
    if path.resolve() == results or results in path.resolve().parents:
        raise ConfigError(f"{key}: lies inside {out}/, which the workflow owns (it "
                          f"simulates the examples into {examples_folder(config)}/ and "
                          "moves aside files it cannot read); keep recordings in a folder "
                          "of their own")
    if not path.exists():
        raise ConfigError(f"{key}: no such folder (a relative path is relative to the "
                          f"working directory {Path.cwd()}); create it, or set "
                          "observations/dir: null to observe the examples only")
    if not path.is_dir():
        raise ConfigError(f"{key}: is a file, not a folder of recordings")
    return path


def recordings(config: Mapping) -> dict[str, str]:
    """``{name: path}`` of every recording, sorted by name: the configured examples (in
    :func:`examples_folder`) and the files in the observations folder (now; checked by
    :func:`check_directory`). A file whose name is not a valid recording name (spaces,
    non-ASCII letters...) or that shares its name with another file is skipped with a
    warning naming it: one odd file never blocks the workflow (``--unlock`` included).

    Raises
    ------
    ConfigError when a file in the folder has an example's name: both would name
    ``out/observations/{name}/``; the user's file is never written.
    """
    examples = {name: example_path(config, name) for name in config["observations"]["examples"]}
    folder = check_directory(config)
    files = sorted(folder.iterdir()) if folder is not None else []
    found: dict[str, str] = {}
    stimulus = config["stimulus"]
    if is_recording(stimulus):
        found[recording_name(config)] = str(PurePosixPath(stimulus["recording"]))
        found.update(cell_files(config))
    for path in files:
        if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        shown = f"{directory(config)}/{path.name}"
        if is_recording(stimulus):
            log.warning("%s: skipped: a single-step recording, and the stimulus is the sweeps "
                        "of %s (stimulus/recording); its features cannot be computed under "
                        "those protocols", shown, stimulus["recording"])
        elif not re.fullmatch(NAME_PATTERN, path.stem, flags=re.ASCII):
            log.warning("%s: skipped: a recording's file name may hold only letters, digits, "
                        "'_' and '-' (it names the recording's results); rename it", shown)
        elif path.stem in examples:
            raise ConfigError(
                f"config key observations/examples/{path.stem}: {shown} in observations/dir "
                f"has the name of this synthetic example (simulated into "
                f"{examples[path.stem]}); both would be "
                f"{out_folder.folder(config)}/observations/{path.stem}/: "
                "rename the example or the file")
        elif found.setdefault(path.stem, shown) != shown:
            log.warning("%s: skipped: %s is also named %r; rename one", shown,
                        found[path.stem], path.stem)
    return dict(sorted({**examples, **found}.items()))


def cell_files(config: Mapping) -> dict[str, str]:
    """``{name: path}`` of the further cells of a recording stimulus (``stimulus/cells``:
    files or glob patterns, relative to the working directory; every match of a pattern,
    sorted), each named by its stem. The stimulus's own file is left out when a pattern
    matches it. Nothing without a recording stimulus.

    Raises
    ------
    ConfigError naming ``stimulus/cells``: cells without a recording stimulus, an entry that
    matches no file, a file that is not ``.abf``/``.nwb``, a stem that is no valid
    recording name, or two cells (or a cell and an example) of one name.
    """
    stimulus = config["stimulus"]
    entries = stimulus.get("cells") or []
    if not entries:
        return {}
    if not is_recording(stimulus):
        raise ConfigError("config key stimulus/cells: further cells share the sweeps of "
                          "stimulus/recording; set a recording first")
    own = PurePosixPath(stimulus["recording"])
    taken = {recording_name(config): str(own)}
    found: dict[str, str] = {}
    for k, entry in enumerate(entries):
        key = f"config key stimulus/cells/{k}={entry!r}"
        matches = matching_files(entry)
        if not matches:
            raise ConfigError(f"{key}: no file matches it (relative to the working directory "
                              f"{Path.cwd()})")
        for match in matches:
            path = PurePosixPath(match.as_posix())
            if path == own:
                continue
            if match.suffix.lower() not in EPHYS_SUFFIXES:
                raise ConfigError(f"{key}: {path} is not an ABF or NWB file "
                                  f"({', '.join(EPHYS_SUFFIXES)})")
            if not re.fullmatch(NAME_PATTERN, path.stem, flags=re.ASCII):
                raise ConfigError(f"{key}: {path}: the file's name {path.stem!r} names its "
                                  "results and may hold only letters, digits, '_' and '-'")
            other = taken.get(path.stem) or found.get(path.stem)
            if path.stem in config["observations"]["examples"]:
                other = f"observations/examples/{path.stem}"
            if other is not None and other != str(path):
                raise ConfigError(f"{key}: {path} and {other} would both be "
                                  f"{out_folder.folder(config)}/observations/{path.stem}/; "
                                  "rename one")
            found[path.stem] = str(path)
    return found


def recording_name(config: Mapping) -> str:
    """The observation a recording stimulus's file is: its stem.

    Raises
    ------
    ConfigError naming ``stimulus/recording`` when the stem is no valid recording name or
    is a synthetic example's.
    """
    path = PurePosixPath(config["stimulus"]["recording"])
    key = f"config key stimulus/recording={str(path)!r}"
    if not re.fullmatch(NAME_PATTERN, path.stem, flags=re.ASCII):
        raise ConfigError(f"{key}: the file's name {path.stem!r} names its results and may "
                          "hold only letters, digits, '_' and '-'; rename it or link to it")
    if path.stem in config["observations"]["examples"]:
        raise ConfigError(f"{key}: has the name of the synthetic example "
                          f"observations/examples/{path.stem}; rename one")
    return path.stem


def example_pattern(config: Mapping) -> str:
    """Regex matching exactly the names of the configured examples (never, if none)."""
    names = [re.escape(name) for name in config["observations"]["examples"]]
    return "|".join(names) if names else "(?!)"


def example_experiment(config: Mapping) -> ExperimentSimulation:
    """What every synthetic example's simulation depends on besides its parameters: the HF
    simulator, the model's fixed constants and the stimulus (no features, no traces)."""
    return shards.experiment_simulation(config, "hf").with_traces(None, features=())


def example_settings(config: Mapping, name: str) -> dict:
    """Everything synthetic example ``name`` depends on: its parameters, the HF simulator,
    the model's fixed constants, the stimulus (:func:`example_experiment`) and the
    examples' seed."""
    example = config["observations"]["examples"][name]
    simulation = example_experiment(config).to_dict()
    return {
        "name": name,
        "theta": dict(example["theta"]),
        **{key: simulation[key] for key in EXAMPLE_SIMULATION_KEYS},
        "seed": config["observations"]["seed"],
    }


def protocol(config: Mapping, recording: str | None = None) -> dict:
    """What the trained posteriors assume of a recording: stimulus times [ms], amplitude
    [µA/cm²] (None when inferred) and sampling interval [ms] (the HF simulator's); under a
    recording stimulus the sweeps' ``protocols``, ``window_ms`` and that ``dt``. For a
    further cell (``recording`` a name of ``stimulus/cell_sweeps``) the protocols carry that
    file's own sweep indices (its sweeps by amplitude may sit elsewhere)."""
    if is_recording(config["stimulus"]):
        stimulus = simulation_stimulus(config["stimulus"])
        cell_sweeps = config["stimulus"].get("cell_sweeps") or {}
        if recording in cell_sweeps:
            stimulus["protocols"] = [{**p, "sweep": int(index)} for p, index in
                                     zip(stimulus["protocols"], cell_sweeps[recording])]
        return {**stimulus, "window_ms": config["stimulus"].get("window_ms"),
                "dt": config["simulators"]["hf"]["dt"]}
    amplitude = None if "amplitude" in config["prior"] else config["model"]["amplitude"]
    return {**config["stimulus"], "amplitude": amplitude,
            "dt": config["simulators"]["hf"]["dt"]}


def observe_settings(config: Mapping, recording: str | None = None) -> dict:
    """What the posteriors of ``recording`` depend on besides its file: the protocol (with
    a further cell's own sweep indices), the features, every model (run and settings), the
    draw count and the master seed."""
    settings = {
        "protocol": protocol(config, recording),
        "features": list(config["features"]),
        "models": [{"run": run, "settings": runs.model_settings(config, **run)}
                   for run in runs.runs(config)],
        "posterior_samples": config["evaluation"]["posterior_samples"],
        "seed": config["seed"],
    }
    if is_recording(config["stimulus"]):  # x's columns: every feature of every sweep
        settings["feature_names"] = stimulus_names(config)
    return settings


def misspecification_reference(config: Mapping) -> dict:
    """The reference pool of the misspecification verdict: the first ``n`` simulations of
    the LF pool (its largest size at most) or of the HF test pool (``n_test`` at most), as
    ``runs.data_settings``; ``auto`` is the LF pool unless the LF simulator is
    ``deterministic``."""
    reference = config["observations"]["misspecification_reference"]
    pool = reference["pool"]
    if pool == "auto":  # a noise-free LF pool cannot hold a noisy trace's noise features
        pool = "test" if config["simulators"]["lf"]["name"] == "deterministic" else "lf"
    size = max(config["budgets"]["n_lf"]) if pool == "lf" else config["budgets"]["n_test"]
    return runs.data_settings(config, pool, min(reference["n"], size))


def ppc_runs(config: Mapping) -> list[dict]:
    """The models of the predictive checks and observation pairplots: MF-NPE (largest LF
    size and HF budget) and NPE (largest HF budget), training seed 0."""
    n_lf, n_hf = max(config["budgets"]["n_lf"]), max(config["budgets"]["n_hf"])
    return [dict(method=method, n_lf=n_lf if method == "mf_npe" else 0, n_hf=n_hf, seed=0)
            for method in PPC_METHODS]


def predictive_settings(config: Mapping, recording: str | None = None) -> dict:
    """What ``recording``'s predictive check depends on besides its posterior draws."""
    observations = config["observations"]
    return {
        "protocol": protocol(config, recording),
        "simulation": shards.experiment_simulation(config, "test").with_traces(
            config["traces"]["dt"]).to_dict(),
        "runs": ppc_runs(config),
        "n_simulations": observations["ppc_simulations"],
        "n_traces": observations["ppc_traces"],
        "seed": config["seed"],
    }

