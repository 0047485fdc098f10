"""The neuron models' constants: names, units, defaults, and the per-simulation table.

(docs/method.md, "The neuron".) Every simulator takes its per-simulation constants as a
table ``{name: (n,) float64}`` holding *all* constants of its model
(:mod:`mfnpe.hh.models`), plus ``"model"``: (n,) str, the model's reference (a name or
a model file's path; absent: the classic model). :func:`constants_table` builds it from
the config's ``model`` section (``name`` or ``file``, and fixed values) and the inferred
parameters. There is no initial potential:
every simulation starts at the resting state of its own constants (:mod:`mfnpe.hh.rest`;
docs/method.md, "The start").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mfnpe.hh.models import DEFAULT_MODEL, MODEL_KEY, MODELS, get_model, model_reference
from mfnpe.hh.models.classic import CONSTANTS

__all__ = ["CONSTANTS", "DEFAULTS", "NAMES", "UNITS", "constants_table", "model_defaults"]

NAMES = tuple(dict.fromkeys(name for model in MODELS.values() for name in model.constants))
"""Every constant of any model (the classic model's first): what a prior may infer."""
DEFAULTS = {name: value for name, (value, _, _) in CONSTANTS.items()}
"""The classic model's defaults (:func:`model_defaults` for any model)."""
UNITS = {name: unit for model in reversed(MODELS.values())
         for name, (_, unit, _) in model.constants.items()}


def model_defaults(name: str = DEFAULT_MODEL) -> dict[str, float]:
    """``{constant: default}`` of the model ``name``."""
    return get_model(name).defaults


def constants_table(
    fixed: Mapping[str, float], theta: np.ndarray | None = None, names: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Per-simulation constants ``{name: (n,) float64}`` for every constant of the model,
    plus ``"model"`` (n,) str.

    Parameters
    ----------
    fixed : the config's ``model`` section: ``name`` (default ``classic``) or ``file``
        (a model file, :func:`mfnpe.hh.models.load_model_file`) and values overriding
        the model's defaults for all simulations.
    theta : (n, len(names)) inferred parameter values, one row per simulation.
    names : the column names of ``theta``; each must be a constant of the model.
    """
    reference = model_reference(fixed)
    model = get_model(reference)
    own = model.names
    unknown = sorted(set(fixed) - set(own) - {"name", "file"}) + sorted(set(names) - set(own))
    if unknown:
        raise ValueError(f"unknown constant(s) {unknown} of model {model.name!r}; "
                         f"its constants: {list(own)}")
    theta = np.zeros((1, 0)) if theta is None else np.atleast_2d(np.asarray(theta, dtype=float))
    if theta.shape[1] != len(names):
        raise ValueError(f"theta has {theta.shape[1]} columns but {len(names)} names {list(names)}")
    n = theta.shape[0]
    defaults = model.defaults
    table = {name: np.full(n, float(fixed.get(name, defaults[name]))) for name in own}
    for column, name in enumerate(names):
        table[name] = theta[:, column].copy()
    if reference != DEFAULT_MODEL:
        table[MODEL_KEY] = np.full(n, reference)
    return table
