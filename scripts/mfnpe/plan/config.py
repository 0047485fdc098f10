"""Loading and checking the workflow config against its schema (config.schema.yaml beside
this file, package data of mfnpe).

Light on purpose (yaml and jsonschema only): the Snakefile imports it in Snakemake's own
environment, before any rule env exists.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsonschema
import yaml

from mfnpe.names import SIMULATOR_OPTIONS

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")



class ConfigError(ValueError):
    """A config value is missing, mistyped or inconsistent; the message names the key."""


def _with_defaults(validator_class):
    """A jsonschema validator class that also fills in every ``default`` it passes."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
            # keys in the schema's order: a section that an overlay config created, then
            # filled with defaults, must give the same settings (and params) as one that
            # was there all along, or Snakemake would re-run its jobs
            ordered = [name for name in properties if name in instance]
            ordered += [name for name in instance if name not in properties]
            for name in ordered:
                instance[name] = instance.pop(name)
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_STRICT_INTEGERS = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)),
)
"""JSON Schema counts 20.0 as an integer; a count written as a float (``n_hf: [20.0]``)
would then name files ``nhf-20.0`` that no rule makes. Here an integer is an int."""

SETS = (("model",), ("prior",), ("observations", "examples"))
"""Config sections that define a set: a config file that gives one replaces the default's
whole (Snakemake merges mappings key by key, so a prior naming two parameters would still
infer the default's third, and a ``model`` naming the Pospischil cell would keep the classic
model's reversal potentials). Names a ``model`` leaves out take that model's defaults.
Lists (budgets, features, seeds...) are always replaced."""


class _StrictLoader(yaml.SafeLoader):
    """YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(f"{mark.name}, line {mark.line + 1}: key {key!r} is given twice")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_yaml(path: str | Path) -> dict:
    """A config file's mapping; a syntax error or a duplicate key raises :class:`ConfigError`
    naming the file and line."""
    path = Path(path)
    try:
        with open(path) as handle:
            data = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err}") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {err.problem}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections, "
                          f"got {type(data).__name__}")
    return data


def replace_sets(config: dict, overlays: Sequence[str | Path]) -> dict:
    """Give ``config`` (the default merged with ``overlays`` by Snakemake) each set of
    :data:`SETS` as the last overlay that defines it wrote it; returns ``config``."""
    for path in overlays:
        overlay = read_yaml(path)
        for keys in SETS:
            found = overlay
            for key in keys:
                found = found.get(key) if isinstance(found, Mapping) else None
            if found is not None:
                target = config
                for key in keys[:-1]:
                    target = target.setdefault(key, {})
                target[keys[-1]] = copy.deepcopy(found)
    return config


def validate_files(config: dict, paths: Sequence[str | Path]) -> dict:
    """:func:`validate_config` for a config merged from ``paths`` (in order); an error
    names the last of them that sets the offending key."""
    try:
        return validate_config(config)
    except ConfigError as err:
        source = _source_of(str(err), paths)
        raise ConfigError(f"{source}: {err}" if source else str(err)) from None


def _source_of(message: str, paths: Sequence[str | Path]) -> str | None:
    match = re.match(r"config key ([^\s:=]+)", message)
    if not match:
        return None
    keys = match.group(1).split("/")
    for path in reversed(list(paths)):
        node = read_yaml(path)
        for key in keys:
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            elif isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                break
        else:
            return str(path)
    return None


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Fill defaults into ``config`` in place, check it, and return it.

    Raises
    ------
    ConfigError naming the offending key (``prior/gFoo``, ``budgets/n_hf/0`` ...).
    """
    schema = load_schema(schema_path)
    validator_class = _with_defaults(_STRICT_INTEGERS)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0]))
    _fill_model(config, schema)
    check_config(config)
    return config


def _fill_model(config: dict, schema: Mapping) -> None:
    """Fill the neuron model's defaults into ``config["model"]`` (schema order) and refuse
    constants, fixed or inferred, that the model (``model/name``, absent: classic) lacks.

    The per-model defaults are the schema's ``x-model-defaults`` (equal to the registry
    ``mfnpe.hh.models.MODELS``, which needs numpy: tests/test_models.py checks)."""
    section = schema["properties"]["model"]
    model = config["model"]
    name = model.get("name", "classic")
    defaults = section["x-model-defaults"][name]
    for where, given in (("model", [k for k in model if k != "name"]),
                         ("prior", list(config.get("prior", {})))):
        unknown = [key for key in given if key not in defaults]
        if unknown:
            raise ConfigError(f"config key {where}/{unknown[0]}: not a constant of neuron model "
                              f"{name!r}; its constants: {list(defaults)}")
    filled = {**defaults, **model}
    ordered = [key for key in section["properties"] if key in filled]
    config["model"] = {key: filled[key] for key in ordered}


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"config key {where}: {error.message}"


def check_config(config: Mapping) -> None:
    """Semantic checks the schema cannot express; raises :class:`ConfigError`."""
    for name, (low, high, scale) in _prior_entries(config):
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"config key prior/{name}: bounds must be finite, got [{low}, {high}]")
        if not low < high:
            raise ConfigError(f"config key prior/{name}: low must be < high, got [{low}, {high}]")
        if scale == "log" and not low > 0:
            raise ConfigError(f"config key prior/{name}: a log-uniform prior needs low > 0, "
                              f"got {low}")
    _check_physical(config)
    _check_counts(config)
    _check_stimulus(config)
    for n_hf in config["evaluation"]["calibration_budgets"]:
        if n_hf not in config["budgets"]["n_hf"]:
            raise ConfigError(f"config key evaluation/calibration_budgets: {n_hf} is not one of "
                              f"budgets/n_hf {config['budgets']['n_hf']}")
    for pool in config["traces"]["pools"]:
        fidelity = "lf" if pool == "lf" else "hf"
        _check_multiple(
            config["traces"]["dt"], config["simulators"][fidelity]["dt"], "traces/dt",
            f"simulators/{fidelity}/dt",
        )
    _check_examples(config)
    _check_sequential(config["sequential"])


def _check_stimulus(config: Mapping) -> None:
    """The step's times, or the recording form's keys (the file itself is read and its
    sweeps checked at startup by :func:`resolve_recording`: that needs numpy)."""
    stimulus = config["stimulus"]
    if stimulus.get("recording") is None:
        extra = [key for key in (*RECORDING_KEYS, "protocols") if stimulus.get(key) is not None]
        if extra:
            raise ConfigError(f"config key stimulus/{extra[0]}: only used with "
                              "stimulus/recording (a recording's sweeps); give the file, or "
                              "remove it for the current step")
        if not 0 <= stimulus["t_on"] < stimulus["t_off"] <= stimulus["duration"]:
            raise ConfigError(
                "config key stimulus: need 0 <= t_on < t_off <= duration, got "
                f"t_on={stimulus['t_on']}, t_off={stimulus['t_off']}, "
                f"duration={stimulus['duration']}")
        for fidelity, settings in config["simulators"].items():
            for key in ("duration", "t_on", "t_off"):
                _check_multiple(stimulus[key], settings["dt"], f"stimulus/{key}",
                                f"simulators/{fidelity}/dt")
        return
    path = Path(stimulus["recording"])
    key = f"config key stimulus/recording={stimulus['recording']!r}"
    if path.suffix.lower() not in RECORDING_SUFFIXES:
        raise ConfigError(f"{key}: not an ABF (.abf) or NWB (.nwb) file; a recording "
                          f"stimulus needs one of {', '.join(RECORDING_SUFFIXES)}")
    if not path.is_file():
        raise ConfigError(f"{key}: {path}: file does not exist (a relative path is relative "
                          f"to the working directory {Path.cwd()})")
    if (stimulus.get("sweeps") is None) == (stimulus.get("amplitudes_pA") is None):
        raise ConfigError("config key stimulus/sweeps: a recording stimulus chooses its sweeps "
                          "by index (stimulus/sweeps) or by step amplitude "
                          "(stimulus/amplitudes_pA): give exactly one")
    if "amplitude" in config["prior"]:
        raise ConfigError("config key prior/amplitude: under a recording stimulus the current "
                          "is the recording's command [pA]; model/amplitude is not used and "
                          "cannot be inferred")
    for name, example in config["observations"]["examples"].items():
        if example["format"] == "csv":
            raise ConfigError(f"config key observations/examples/{name}/format=csv: under a "
                              "recording stimulus an example holds one trace per sweep, which "
                              "only HDF5 stores; use format h5")
    window = stimulus.get("window_ms")
    if window is not None:
        if not window[0] < window[1]:
            raise ConfigError(f"config key stimulus/window_ms={window}: need start < stop [ms]")
        for fidelity, settings in config["simulators"].items():
            for k, value in enumerate(window):
                _check_multiple(value, settings["dt"], f"stimulus/window_ms/{k}",
                                f"simulators/{fidelity}/dt")


RECORDING_KEYS = ("sweeps", "amplitudes_pA", "window_ms")
"""The stimulus keys of the recording form besides ``recording`` itself."""
RECORDING_SUFFIXES = (".abf", ".nwb")
"""The files a recording stimulus reads (``mfnpe.io.ephys``)."""


def resolve_recording(config: dict, paths: Sequence[str | Path], resolve) -> None:
    """Read the chosen sweeps' protocols of a recording stimulus into
    ``config["stimulus"]["protocols"]`` with ``resolve`` (``mfnpe.observation.stimulus.resolve``,
    passed in: it reads the file with numpy and pyabf or pynwb); nothing for the step.

    Raises
    ------
    ConfigError naming the config file, the key, the recording and the sweep.
    """
    stimulus = config["stimulus"]
    stimulus.pop("protocols", None)
    if stimulus.get("recording") is None:
        return
    try:
        stimulus["protocols"] = resolve(config)
    except ValueError as err:  # RecordingError: every fault of the file or a sweep
        source = _source_of(str(err), paths)
        raise ConfigError(f"{source}: {err}" if source else str(err)) from None


def _prior_entries(config: Mapping) -> list[tuple[str, tuple[float, float, str]]]:
    """The prior section as (name, (low, high, scale)): ``[low, high]`` is uniform, a
    mapping ``{low, high, scale}`` (the schema checked both; as ``mfnpe.prior.config_entry``)."""
    entries = []
    for name, bounds in config["prior"].items():
        if isinstance(bounds, Mapping):
            entries.append((name, (bounds["low"], bounds["high"], bounds.get("scale", "linear"))))
        else:
            entries.append((name, (bounds[0], bounds[1], "linear")))
    return entries


def _check_physical(config: Mapping) -> None:
    """Prior bounds inside each constant's physical domain (the schema's bounds of the
    fixed value: conductances >= 0, capacitance and area > 0)."""
    domains = load_schema()["properties"]["model"]["properties"]
    for name, (low, high, _) in _prior_entries(config):
        domain = domains[name]
        if "minimum" in domain and low < domain["minimum"]:
            raise ConfigError(f"config key prior/{name}: low bound {low} is below the physical "
                              f"minimum {domain['minimum']} ({domain['description']})")
        if "exclusiveMinimum" in domain and low <= domain["exclusiveMinimum"]:
            raise ConfigError(f"config key prior/{name}: low bound {low} must be above "
                              f"{domain['exclusiveMinimum']} ({domain['description']})")


def _check_counts(config: Mapping) -> None:
    """Counts that name more than exists are refused, not silently cut."""
    budgets, evaluation = config["budgets"], config["evaluation"]
    for key in ("n_hf", "n_hf_npe_only", "n_lf"):
        for k, n in enumerate(budgets.get(key, [])):
            section = "pretrain" if key == "n_lf" else ("finetune" if key == "n_hf" else "npe")
            fraction = config["inference"][section]["validation_fraction"]
            n_train = int((1 - fraction) * n)  # sbi's split
            if n_train < 2 or n - n_train < 1:
                raise ConfigError(
                    f"config key budgets/{key}/{k}={n} is too few simulations to train on: "
                    f"inference/{section}/validation_fraction={fraction} splits them into "
                    f"{n_train} for training and {n - n_train} for validation; sbi needs at "
                    "least 2 and 1")
    if evaluation["pairplot_observations"] > budgets["n_test"]:
        raise ConfigError(
            f"config key evaluation/pairplot_observations={evaluation['pairplot_observations']}"
            f" is more than the {budgets['n_test']} test simulations (budgets/n_test)")
    first_test_shard = min(config["shards"]["test"], budgets["n_test"])
    if evaluation["trace_examples"] > first_test_shard:
        raise ConfigError(
            f"config key evaluation/trace_examples={evaluation['trace_examples']} is more than "
            f"the {first_test_shard} test simulations of the first test shard "
            "(shards/test, budgets/n_test) that the traces figure shows")
    observations = config["observations"]
    if observations["ppc_simulations"] > evaluation["posterior_samples"]:
        raise ConfigError(
            f"config key observations/ppc_simulations={observations['ppc_simulations']} is "
            f"more than the {evaluation['posterior_samples']} posterior draws it takes them "
            "from (evaluation/posterior_samples)")


def _check_sequential(section: Mapping) -> None:
    """The truncation threshold is a quantile of ``support_samples`` draws: it needs at
    least 10 draws beyond it."""
    needed = math.ceil(10 / section["truncation_quantile"])
    if section["support_samples"] < needed:
        raise ConfigError(
            f"config key sequential/support_samples={section['support_samples']} is too few to "
            f"estimate the {section['truncation_quantile']} quantile of the posterior density; "
            f"use at least {needed} (10 / sequential/truncation_quantile)")


def _check_examples(config: Mapping) -> None:
    """Synthetic examples: theta names every inferred parameter, inside the prior box; their
    predictive checks keep HF traces every traces/dt. The recordings folder's path holds no
    braces (its existence is checked on disk by mfnpe.plan.observations.check_directory)."""
    folder = config["observations"]["dir"]
    if folder is not None and re.search(r"[{}]", folder):
        raise ConfigError(f"config key observations/dir={folder!r}: braces are not allowed in "
                          "the recordings folder's path (they mark wildcards in the workflow's "
                          "file patterns); rename the folder or point at it through a link "
                          "without braces")
    prior = config["prior"]
    for name, example in config["observations"]["examples"].items():
        key = f"observations/examples/{name}/theta"
        if set(example["theta"]) != set(prior):
            raise ConfigError(f"config key {key}: names {sorted(example['theta'])}, but the "
                              f"prior infers {list(prior)}; give a value for each")
        for param, value in example["theta"].items():
            low, high, _ = dict(_prior_entries(config))[param]
            if not low <= value <= high:
                raise ConfigError(f"config key {key}/{param}={value} is outside the prior "
                                  f"[{low}, {high}]")
    _check_multiple(config["traces"]["dt"], config["simulators"]["hf"]["dt"], "traces/dt",
                    "simulators/hf/dt")


def _check_multiple(value: float, step: float, value_key: str, step_key: str) -> None:
    ratio = value / step
    if abs(ratio - round(ratio)) > 1e-6 * max(1.0, abs(ratio)):
        raise ConfigError(f"config key {value_key}={value} is not a multiple of {step_key}={step}")


def load_config(path: str | Path) -> dict:
    """Read a YAML config file, fill defaults and check it (errors name the file and key)."""
    path = Path(path)
    config = read_yaml(path)
    try:
        return validate_config(config)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def snakemake_merge(paths: Sequence[str | Path]) -> dict:
    """The files merged in order as ``snakemake --configfile PATHS...`` merges them:
    mappings key by key, other values replaced (sets not yet replaced, nothing checked)."""
    def update(target: dict, source: Mapping) -> None:
        for key, value in source.items():
            if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                update(target[key], value)
            else:
                target[key] = copy.deepcopy(value)

    config: dict = {}
    for path in paths:
        update(config, read_yaml(path))
    return config


def merge_files(paths: Sequence[str | Path]) -> dict:
    """The config that ``snakemake --configfile PATHS...`` runs with (outside Snakemake, for
    tools): :func:`snakemake_merge`, each set of :data:`SETS` replaced whole, defaults
    filled and checked. A recording's stimulus is not read (:func:`resolve_recording`)."""
    return validate_files(replace_sets(snakemake_merge(paths), paths), paths)


def simulator_settings(config: Mapping, fidelity: str) -> dict:
    """The settings the ``fidelity`` ('lf' or 'hf') simulator actually reads."""
    settings = config["simulators"][fidelity]
    return {key: settings[key] for key in ("name", *SIMULATOR_OPTIONS[settings["name"]])}


def write_effective_config(config: Mapping, path: str | Path) -> bool:
    """Write the config a run uses (defaults filled, overlays applied) as YAML to ``path``,
    only when it differs from what is there; returns whether it wrote."""
    import os

    path = Path(path)
    text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)
    return True


def describe_prior(config: Mapping) -> str:
    """One line per inferred parameter: name, bounds and unit."""
    units = load_schema()["properties"]["model"]["properties"]
    lines = [f"prior ({len(config['prior'])} parameters, columns of theta in this order):"]
    for name, (low, high, scale) in _prior_entries(config):
        unit = re.search(r"\[(.*?)\]", units[name]["description"])
        lines.append(f"  {name}: [{low}, {high}]" + (f" {unit.group(1)}" if unit else "")
                     + (" (log-uniform)" if scale == "log" else ""))
    return "\n".join(lines)
