"""Loading and checking the workflow config against its schema, which the caller passes
(:func:`load_schema` reads it; the workflow keeps its schema with its rules). The config
arrives merged: this module reads the files again only to replace sets whole
(:func:`replace_sets`) and to name the file that set a faulty key.

Light on purpose (yaml and jsonschema only): the Snakefile imports it in Snakemake's own
environment, before any rule env exists.
"""

from __future__ import annotations

import copy
import glob
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import jsonschema
import yaml

from mfnpe.names import EPHYS_SUFFIXES, MARKOV_SIMULATORS, SIMULATOR_OPTIONS
from mfnpe.plan import resources
from mfnpe.simulation.feature_sets import resolve_features


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
    """A config file's mapping. Raises :class:`ConfigError` naming the file (and line and
    column where there is one) for what Snakemake's ``--configfile`` would refuse without
    naming it: a YAML syntax error, a file that is not UTF-8 text, an empty file (nothing
    or only comments), a top level that is not a mapping (a list, a scalar); and for a key
    given twice in one mapping (Snakemake keeps the last)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:  # as Snakemake opens it
            data = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {err.start}: {err.reason}); "
                          "a config file is YAML text") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {err.problem}"
                          + (" (YAML indents with spaces, never tabs)"
                             if r"'\t'" in str(err.problem) else "")) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if data is None:
        raise ConfigError(f"{path}: the config file is empty (no setting, at most comments); "
                          "the workflow refuses an empty config file: give at least one setting, "
                          "or write {} for a file that changes nothing")
    if not isinstance(data, dict):
        line = _top_level_line(path)
        raise ConfigError(f"{path}{f', line {line}' if line else ''}: a config file must be a "
                          f"mapping of sections (e.g. 'budgets:' at the start of a line), "
                          f"got a {type(data).__name__} at the top level")
    return data


def _top_level_line(path: Path) -> int | None:
    """The 1-based line where the top-level node of a YAML file starts (None if unknown)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return node.start_mark.line + 1 if node is not None else None


def replace_sets(config: dict, overlays: Sequence[str | Path]) -> dict:
    """Give ``config`` (files merged by Snakemake, ``overlays`` among them in merge order)
    each set of :data:`SETS` as the last of ``overlays`` that defines it wrote it; returns
    ``config``."""
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


def distinct_paths(paths: Sequence[str | Path]) -> list[str | Path]:
    """``paths`` without repeats of one file (the same file relative and absolute counts
    once), each first as written, in order."""
    seen, found = set(), []
    for path in paths:
        key = Path(path).resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)
    return found


def validate_files(config: dict, paths: Sequence[str | Path], schema: Mapping) -> dict:
    """:func:`validate_config` for a config merged from ``paths`` (in order); an error
    names the last of them that sets the offending key."""
    try:
        return validate_config(config, schema)
    except ConfigError as err:
        raise ConfigError(_with_source(str(err), paths)) from None


def _with_source(message: str, paths: Sequence[str | Path]) -> str:
    """``message`` after the file that set the key it names (:func:`_source_of`), else
    after every file of the merge (the key kept its schema default, or the fault lies
    between keys); unchanged without files."""
    if not paths:
        return message
    source = _source_of(message, paths) or (
        "config files " + ", ".join(map(str, paths)) + " (merged)")
    return f"{source}: {message}"


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


def load_schema(path: str | Path) -> dict:
    """The config schema (JSON Schema as YAML) at ``path``, as a mapping."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict, schema: Mapping) -> dict:
    """Fill defaults of ``schema`` (:func:`load_schema`'s) into ``config`` in place, check
    it, and return it.

    Raises
    ------
    ConfigError naming the offending key (``prior/gFoo``, ``budgets/n_hf/0`` ...).
    """
    validator_class = _with_defaults(_STRICT_INTEGERS)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0]))
    config["features"] = resolve_features(config["features"])  # a set name: its list
    _fill_model(config, schema)
    check_config(config, schema)
    return config


def _fill_model(config: dict, schema: Mapping) -> None:
    """Fill the neuron model's defaults into ``config["model"]`` (schema order, then a
    model file's own constants) and refuse constants, fixed or inferred, that the model
    (``model/name``, absent: classic, or ``model/file``, which replaces a name: the name
    is dropped) lacks."""
    section = schema["properties"]["model"]
    model = config["model"]
    if "file" in model:
        model.pop("name", None)
    name, defaults, _, _ = model_card(model, schema)
    for where, given in (("model", [k for k in model if k not in MODEL_CHOICE]),
                         ("prior", list(config.get("prior", {})))):
        unknown = [key for key in given if key not in defaults]
        if unknown:
            raise ConfigError(f"config key {where}/{unknown[0]}: not a constant of neuron model "
                              f"{name!r}; its constants: {list(defaults)}")
    filled = {**defaults, **model}
    ordered = [key for key in section["properties"] if key in filled]
    ordered += [key for key in filled if key not in ordered]
    config["model"] = {key: filled[key] for key in ordered}


MODEL_CHOICE = ("name", "file")
"""The keys of the config's ``model`` section that choose the model (the rest are its
constants)."""


class ModelCard(NamedTuple):
    """What the planning layer knows of the configured neuron model.

    Attributes
    ----------
    name : the model's name.
    defaults : {constant: default value}, every constant of the model.
    units : {constant: unit}, e.g. ``"mS/cm²"``.
    channels : {channel type: [its conductance constant, single-channel conductance pS]}.
    """

    name: str
    defaults: dict[str, float]
    units: dict[str, str]
    channels: dict[str, list]


def model_card(model: Mapping, schema: Mapping) -> ModelCard:
    """The :class:`ModelCard` of the config's ``model`` section. A shipped model's comes
    from the schema (``x-model-defaults``, ``x-model-channels``, the units of its
    properties; equal to the registry ``mfnpe.hh.models.MODELS``, which needs numpy:
    tests/test_models.py checks); a model file's from the file, which is Python and so is
    imported here (with numpy), once, before any work starts."""
    section = schema["properties"]["model"]
    if "file" not in model:
        name = model.get("name", "classic")
        units = {key: unit.group(1) for key, value in section["properties"].items()
                 if (unit := re.search(r"\[(.*?)\]", value.get("description", "")))}
        return ModelCard(name, section["x-model-defaults"][name], units,
                         section["x-model-channels"][name])
    from mfnpe.hh.models import load_model_file  # noqa: PLC0415 (numpy: only for a file)

    try:
        neuron = load_model_file(model["file"])
    except ValueError as error:
        raise ConfigError(f"config key model/file: {error}") from error
    return ModelCard(neuron.name, neuron.defaults,
                     {name: unit for name, (_, unit, _) in neuron.constants.items()},
                     {c.name: [c.conductance, c.single_pS] for c in neuron.channels})


def _describe(error: jsonschema.ValidationError) -> str:
    """``config key <path>: <what is wrong>``; an unknown key's path ends with that key, so
    :func:`_source_of` finds the file that gave it."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(error.schema.get("properties", {}))
        unknown = [str(key) for key in error.instance if key not in known]
        if unknown:
            section = "/".join(path) or "the top level"
            return (f"config key {'/'.join([*path, unknown[0]])}: unknown key "
                    f"{', '.join(map(repr, unknown))} at {section}; the keys there: {known}")
    where = "/".join(path) or "(top level)"
    return f"config key {where}: {error.message}"


def check_config(config: Mapping, schema: Mapping) -> None:
    """Semantic checks the schema cannot express (``schema`` gives the constants' physical
    domains and the models' channels); raises :class:`ConfigError`."""
    for name, (low, high, scale) in _prior_entries(config):
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"config key prior/{name}: bounds must be finite, got [{low}, {high}]")
        if not low < high:
            raise ConfigError(f"config key prior/{name}: low must be < high, got [{low}, {high}]")
        if scale == "log" and not low > 0:
            raise ConfigError(f"config key prior/{name}: a log-uniform prior needs low > 0, "
                              f"got {low}")
    _check_physical(config, schema)
    _check_channels(config, schema)
    _check_counts(config)
    _check_stimulus(config)
    _check_memory(config)
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
    if path.suffix.lower() not in EPHYS_SUFFIXES:
        raise ConfigError(f"{key}: not an ABF (.abf) or NWB (.nwb) file; a recording "
                          f"stimulus needs one of {', '.join(EPHYS_SUFFIXES)}")
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


def resolve_area_prior(config: dict, paths: Sequence[str | Path], measure) -> str | None:
    """Replace a prior ``area: {from_recording: F}`` (F ≥ 1) by the log-uniform range the
    recording stimulus's passive card gives, ``measure(path, F) -> (low, high)``
    (``mfnpe.observation.passive.area_prior_from_recording``, passed in: it reads the file
    with numpy). Runs before the config is validated; returns a line that says what was
    set (None when the prior asks nothing of the recording).

    Raises
    ------
    ConfigError naming the config file: no recording stimulus, a factor below 1, a file
    without a measurable hyperpolarising pulse.
    """
    prior = config.get("prior") or {}
    for name, spec in prior.items():
        if name != "area" and isinstance(spec, Mapping) and "from_recording" in spec:
            raise ConfigError(f"{_with_source(f'config key prior/{name}/from_recording', paths)}"
                              ": only the area's prior can come from a recording's passive card")
    entry = prior.get("area")
    if not isinstance(entry, Mapping) or "from_recording" not in entry:
        return None
    factor = entry["from_recording"]
    recording = (config.get("stimulus") or {}).get("recording")
    source = _with_source("config key prior/area/from_recording", paths)
    if recording is None:
        raise ConfigError(f"{source}: the area prior comes from a recording's passive card, "
                          "but stimulus/recording names no recording")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 1:
        raise ConfigError(f"{source}: the margin factor must be a number of at least 1 "
                          f"(e.g. 2: the measured range halved and doubled), got {factor!r}")
    try:
        low, high = measure(recording, float(factor))
    except ValueError as err:  # RecordingError: no pulse, unreadable file
        raise ConfigError(f"{source}: {err}") from None
    config["prior"]["area"] = {"low": float(f"{low:.4g}"), "high": float(f"{high:.4g}"),
                               "scale": "log"}
    return (f"prior: area log-uniform on [{low:.4g}, {high:.4g}] µm², from the passive card "
            f"of {recording} (its pulses' range of C_m·(1 − sag) to C_m at 1 µF/cm², "
            f"÷/× {factor:g})")


def resolve_recording(config: dict, paths: Sequence[str | Path], resolve) -> None:
    """Read the chosen sweeps' protocols of a recording stimulus into
    ``config["stimulus"]["protocols"]`` with ``resolve`` (``mfnpe.recordings.stimulus.resolve``,
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
        _check_memory(config)  # the simulated time is known now: every sweep's
    except ValueError as err:  # RecordingError: every fault of the file or a sweep
        raise ConfigError(_with_source(str(err), paths)) from None


def matching_files(entry: str) -> list[Path]:
    """The existing files ``entry`` names: a path, or a glob pattern (every match, sorted);
    relative to the working directory."""
    matches = sorted(Path().glob(entry)) if glob.has_magic(entry) else [Path(entry)]
    return [match for match in matches if match.is_file()]


def resolve_cells(config: dict, paths: Sequence[str | Path], find, resolve) -> None:
    """Find the further cells of a recording stimulus with ``find``
    (``mfnpe.plan.observations.cell_files``: ``{name: path}``) and each one's chosen sweeps
    with ``resolve`` (``mfnpe.recordings.stimulus.resolve_cells``, passed in: it reads the
    files) into ``config["stimulus"]["cell_sweeps"]`` (``{name: [sweep index, ...]}``),
    after :func:`resolve_recording`.

    Raises
    ------
    ConfigError naming the config file, ``stimulus/cells``, the file and the sweep.
    """
    stimulus = config["stimulus"]
    stimulus.pop("cell_sweeps", None)
    try:
        cells = find(config)
        if cells:
            stimulus["cell_sweeps"] = resolve(config, cells)
    except ValueError as err:  # ConfigError, RecordingError
        raise ConfigError(_with_source(str(err), paths)) from None


def _check_memory(config: Mapping) -> None:
    """Refuse a simulated time (or a shard of kept traces) whose simulate jobs would need
    more memory than :data:`mfnpe.plan.resources.MAX_SIMULATE_PEAK_MB`."""
    stimulus = config["stimulus"]
    if stimulus.get("recording") is None:
        key = f"stimulus/duration={stimulus['duration']:g}"
    elif stimulus.get("window_ms") is not None:
        key = f"stimulus/window_ms={stimulus['window_ms']}"
    else:
        key = f"stimulus/recording={stimulus['recording']!r}"
    fault = resources.memory_fault(config, key)
    if fault:
        raise ConfigError(fault)


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


def _check_physical(config: Mapping, schema: Mapping) -> None:
    """Prior bounds inside each constant's physical domain (the schema's bounds of the
    fixed value: conductances >= 0, capacitance and area > 0; a model file's own
    conductances >= 0)."""
    domains = schema["properties"]["model"]["properties"]
    channels = model_card(config["model"], schema).channels
    conductance = {"minimum": 0, "description": "a channel's maximal conductance density"}
    for name, (low, high, _) in _prior_entries(config):
        own = conductance if name in (g for g, _ in channels.values()) else {}
        domain = domains.get(name, own)
        if "minimum" in domain and low < domain["minimum"]:
            raise ConfigError(f"config key prior/{name}: low bound {low} is below the physical "
                              f"minimum {domain['minimum']} ({domain['description']})")
        if "exclusiveMinimum" in domain and low <= domain["exclusiveMinimum"]:
            raise ConfigError(f"config key prior/{name}: low bound {low} must be above "
                              f"{domain['exclusiveMinimum']} ({domain['description']})")


def _constant_box(config: Mapping, name: str) -> tuple[float, float, str | None]:
    """(low, high, scale) of constant ``name``: its prior box, or (value, value, None) for
    a fixed value (the filled ``model`` section)."""
    prior = dict(_prior_entries(config))
    if name in prior:
        return prior[name]
    value = float(config["model"][name])
    return value, value, None


def _cdf(x: float, low: float, high: float, scale: str | None) -> float:
    """P(θ ≤ x) for θ uniform (``linear``) or log-uniform (``log``) on [low, high], or
    fixed at ``low`` (``None``)."""
    if scale is None:
        return 1.0 if x >= low else 0.0
    if x <= low:
        return 0.0
    if x >= high:
        return 1.0
    if scale == "log":
        return math.log(x / low) / math.log(high / low)
    return (x - low) / (high - low)


def _quantile(u: float, low: float, high: float, scale: str | None) -> float:
    if scale is None:
        return low
    return low * (high / low) ** u if scale == "log" else low + u * (high - low)


SHARE_POINTS = 4096
"""Points of the midpoint rule over the area's prior for :func:`_zero_share`."""


def _zero_share(g: tuple, area: tuple, limit: float) -> float:
    """Share of prior draws with ``g · area ≤ limit`` (a channel type rounded to zero
    channels), ``g`` and ``area`` each a :func:`_constant_box`: exact when either is fixed,
    else a midpoint rule over the area's quantiles (error far below 0.1%)."""
    if g[2] is None:
        return _cdf(limit / g[0], *area) if g[0] > 0 else 1.0
    if area[2] is None:
        return _cdf(limit / area[0], *g)
    points = ((k + 0.5) / SHARE_POINTS for k in range(SHARE_POINTS))
    return sum(_cdf(limit / _quantile(u, *area), *g) for u in points) / SHARE_POINTS


def _channel_checks(config: Mapping, schema: Mapping) -> list[tuple[str, str, float, dict]]:
    """For every channel type of the configured model whose count can round to zero, while
    a channel-number simulator (``mfnpe.names.MARKOV_SIMULATORS``) is configured:
    ``(kind, key, share, facts)``, ``kind`` "refuse" (every draw, or the fixed values, give
    no channel) or "warn" (some draws), ``key`` the constant to name, ``share`` the share of
    the prior's draws with no channel. A conductance fixed at exactly 0 is a channel left
    out on purpose: never named."""
    counting = [f"{config['simulators'][f]['name']} (simulators/{f})" for f in ("lf", "hf")
                if config["simulators"][f]["name"] in MARKOV_SIMULATORS]
    if not counting:
        return []
    name, defaults, _, channels = model_card(config["model"], schema)
    found = []
    for channel, (conductance, single_pS) in channels.items():
        g, area = _constant_box(config, conductance), _constant_box(config, "area")
        if g[2] is None and g[0] == 0:
            continue
        per_um2 = 10.0 / single_pS  # channels per µm² per mS/cm², as hh.channels.Channel
        most = round(g[1] * per_um2 * area[1])  # numpy's rint: half to even, as Python's
        share = 1.0 if most == 0 else _zero_share(g, area, 0.5 / per_um2)
        if share <= 0:
            continue
        area_first = area[2] is not None or area[0] != defaults["area"]
        lead = "area" if area_first else conductance
        box = _constant_box(config, lead)
        key = (f"model/{lead}={box[0]:g}" if box[2] is None
               else f"prior/{lead}=[{box[0]:g}, {box[1]:g}]")
        facts = {"model": name, "channel": channel, "conductance": conductance,
                 "pS": single_pS, "limit": 0.5 / per_um2, "g": g, "area": area,
                 "simulators": counting}
        found.append(("refuse" if most == 0 else "warn", key, share, facts))
    return found


def _range_text(name: str, box: tuple, unit: str) -> str:
    low, high, scale = box
    return (f"{name}={low:g} {unit}" if scale is None
            else f"{name} in [{low:g}, {high:g}] {unit}")


def _check_channels(config: Mapping, schema: Mapping) -> None:
    """A channel type that the fixed constants (or every draw of the prior) leave with no
    channel, under a channel-number simulator, is refused naming the constant: that
    simulator would simulate none of its current while the others (which keep the
    conductance) would."""
    for kind, key, _, f in _channel_checks(config, schema):
        if kind != "refuse":
            continue
        g, area = f["g"], f["area"]
        every = "" if g[2] is None and area[2] is None else " for every draw of the prior"
        raise ConfigError(
            f"config key {key}: leaves neuron model {f['model']!r} with no {f['channel']} "
            f"channel{every}: the channel number round({f['conductance']} · area · 10 / "
            f"{f['pS']:g} pS) is {g[1] * 10.0 / f['pS'] * area[1]:.3g} rounded to 0 "
            f"at {_range_text(f['conductance'], g, 'mS/cm²')} and "
            f"{_range_text('area', area, 'µm²')}, so {' and '.join(f['simulators'])} would "
            f"simulate no {f['channel']} current; one channel needs {f['conductance']} · "
            f"area > {f['limit']:g} mS/cm²·µm² (to leave the channel out on purpose, fix "
            f"model/{f['conductance']}: 0)")


def channel_warnings(config: Mapping, schema: Mapping) -> list[str]:
    """Warnings (empty if none) for a prior under which some draws leave a channel type
    with no channel (:func:`_channel_checks`), each with the share of such draws: it may be
    intended (a conductance whose prior reaches 0, e.g. ḡM), so it does not stop the run."""
    messages = []
    for kind, _, share, f in _channel_checks(config, schema):
        if kind != "warn":
            continue
        percent = f"{100 * share:.2g}%"
        messages.append(
            f"prior: {percent} of the prior's draws leave neuron model {f['model']!r} with "
            f"no {f['channel']} channel (round({f['conductance']} · area · 10 / {f['pS']:g} "
            f"pS) = 0 where {f['conductance']} · area ≤ {f['limit']:g} mS/cm²·µm²; "
            f"{_range_text(f['conductance'], f['g'], 'mS/cm²')}, "
            f"{_range_text('area', f['area'], 'µm²')}): for them "
            f"{' and '.join(f['simulators'])} simulates no {f['channel']} current; if that "
            f"is not intended, raise the low bound of {f['conductance']} or area")
    return messages


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


def load_config(path: str | Path, schema: Mapping) -> dict:
    """Read a YAML config file, fill defaults and check it (errors name the file and key)."""
    path = Path(path)
    config = read_yaml(path)
    try:
        return validate_config(config, schema)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def check_merged(config: dict, paths: Sequence[str | Path], schema: Mapping,
                 area_measure=None) -> dict:
    """The config that ``snakemake --configfile PATHS...`` runs with, from ``config``, the
    files ``paths`` as Snakemake merged them (``snakemake.utils.update_config`` in order:
    mappings key by key, lists and other values replaced whole): each set of :data:`SETS`
    replaced whole, an area prior from the recording resolved with ``area_measure``
    (``mfnpe.observation.passive.area_prior_from_recording``, passed in: it reads the file
    with numpy; :func:`resolve_area_prior`), defaults filled and checked. A recording's
    sweeps are not read (:func:`resolve_recording`)."""
    replace_sets(config, paths)
    area = (config.get("prior") or {}).get("area")
    if isinstance(area, Mapping) and "from_recording" in area and area_measure is None:
        raise ConfigError(f"{_with_source('config key prior/area/from_recording', paths)}: "
                          "the area prior comes from the recording's passive card: pass "
                          "area_measure=mfnpe.observation.passive.area_prior_from_recording")
    resolve_area_prior(config, paths, area_measure)
    return validate_files(config, paths, schema)


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


def describe_prior(config: Mapping, schema: Mapping) -> str:
    """One line per inferred parameter: name, bounds and unit (:func:`model_card`)."""
    units = model_card(config["model"], schema).units
    lines = [f"prior ({len(config['prior'])} parameters, columns of theta in this order):"]
    for name, (low, high, scale) in _prior_entries(config):
        unit = units.get(name)
        lines.append(f"  {name}: [{low}, {high}]" + (f" {unit}" if unit else "")
                     + (" (log-uniform)" if scale == "log" else ""))
    return "\n".join(lines)
