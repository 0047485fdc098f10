"""Loading and checking the workflow config against its schema (config.schema.yaml beside
this file, package data of mfnpe).

Light on purpose (yaml and jsonschema only): the Snakefile imports it in Snakemake's own
environment, before any rule env exists.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
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
    validator_class = _with_defaults(jsonschema.Draft202012Validator)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0]))
    check_config(config)
    return config


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"config key {where}: {error.message}"


def check_config(config: Mapping) -> None:
    """Semantic checks the schema cannot express; raises :class:`ConfigError`."""
    for name, (low, high) in config["prior"].items():
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"config key prior/{name}: bounds must be finite, got [{low}, {high}]")
        if not low < high:
            raise ConfigError(f"config key prior/{name}: low must be < high, got [{low}, {high}]")
    stimulus = config["stimulus"]
    if not 0 <= stimulus["t_on"] < stimulus["t_off"] <= stimulus["duration"]:
        raise ConfigError(
            "config key stimulus: need 0 <= t_on < t_off <= duration, got "
            f"t_on={stimulus['t_on']}, t_off={stimulus['t_off']}, duration={stimulus['duration']}"
        )
    for fidelity, settings in config["simulators"].items():
        for key in ("duration", "t_on", "t_off"):
            _check_multiple(stimulus[key], settings["dt"], f"stimulus/{key}", f"simulators/{fidelity}/dt")
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
    predictive checks keep HF traces every traces/dt."""
    prior = config["prior"]
    for name, example in config["observations"]["examples"].items():
        key = f"observations/examples/{name}/theta"
        if set(example["theta"]) != set(prior):
            raise ConfigError(f"config key {key}: names {sorted(example['theta'])}, but the "
                              f"prior infers {list(prior)}; give a value for each")
        for param, value in example["theta"].items():
            low, high = prior[param]
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
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read config: {err}") from err
    try:
        return validate_config(config)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def simulator_settings(config: Mapping, fidelity: str) -> dict:
    """The settings the ``fidelity`` ('lf' or 'hf') simulator actually reads."""
    settings = config["simulators"][fidelity]
    return {key: settings[key] for key in ("name", *SIMULATOR_OPTIONS[settings["name"]])}
