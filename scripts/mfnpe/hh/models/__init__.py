"""The registry of neuron models: the one source of model names, and models from files.

A model is data (:class:`mfnpe.hh.channels.NeuronModel`): its constants, channels and
rate functions; every simulator takes it as a value and knows no model by name. The
shipped models are one module each here, registered in :data:`MODELS`. A user's model
lives in their own Python file defining ``MODEL = NeuronModel(...)`` and is named by its
path (config ``model: {file: my_cell.py}``; docs/method.md, "Adding a model"): a
*model reference* is a registered name or such a path, and a constants table's
``"model"`` column holds it, so that every process finds the same model.
"""

from __future__ import annotations

from collections.abc import Mapping

import hashlib
import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np

from mfnpe.hh.channels import NeuronModel
from mfnpe.hh.models import classic, pospischil

MODELS: dict[str, NeuronModel] = {
    "classic": classic.MODEL,
    "pospischil_rs": pospischil.RS,
    "pospischil_fs": pospischil.FS,
}
"""Model name (config ``model.name``) -> the model."""

DEFAULT_MODEL = "classic"

MODEL_KEY = "model"
"""Key of a constants table holding the model name per simulation ((n,) str); a table
without it is of the classic model."""


MODEL_FILE_SUFFIX = ".py"
"""A model reference ending in this is a file holding ``MODEL``; any other is a name."""


def get_model(reference: str) -> NeuronModel:
    """The model of a reference: a name of :data:`MODELS`, or the path of a model file."""
    if reference in MODELS:
        return MODELS[reference]
    if reference.endswith(MODEL_FILE_SUFFIX):
        return load_model_file(reference)
    raise ValueError(f"unknown neuron model {reference!r}; known: {list(MODELS)}, or the path "
                     f"of a Python file defining MODEL (config model/file)")


def model_reference(section: Mapping) -> str:
    """The model reference of a config's ``model`` section: its ``file`` if given (which
    replaces a ``name``, so that an overlay can swap a shipped model for a file), else its
    ``name`` (absent: :data:`DEFAULT_MODEL`)."""
    return str(section.get("file") or section.get("name", DEFAULT_MODEL))


def section_model(section: Mapping) -> NeuronModel:
    """The model of a config's ``model`` section (:func:`model_reference`)."""
    return get_model(model_reference(section))


def load_model_file(path: str | Path) -> NeuronModel:
    """The ``MODEL`` of the Python file ``path`` (relative paths: to the working
    directory), loaded once per process and file.

    Raises ValueError naming the file when it is missing, fails to import, defines no
    ``MODEL`` :class:`~mfnpe.hh.channels.NeuronModel`, or takes a shipped model's name."""
    return _load_model_file(str(Path(path).resolve()), str(path))


@cache
def _load_model_file(resolved: str, given: str) -> NeuronModel:
    file = Path(resolved)
    if not file.is_file():
        raise ValueError(f"model file {given}: not found (from {Path.cwd()})")
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"mfnpe_model_{file.stem}_{digest}", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba finds a cached function's globals by module name
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[spec.name]
        raise ValueError(f"model file {given}: importing it failed: "
                         f"{type(error).__name__}: {error}") from error
    model = getattr(module, "MODEL", None)
    if not isinstance(model, NeuronModel):
        raise ValueError(f"model file {given}: defines no MODEL = NeuronModel(...) "
                         f"(mfnpe.hh.channels), got {type(model).__name__}")
    if model.name in MODELS:
        raise ValueError(f"model file {given}: its model is named {model.name!r}, the name of "
                         f"a shipped model; give it another name")
    return model


def reference_of(constants: Mapping) -> str:
    """The model reference of a constants table (one model per table, in its ``"model"``
    column; :data:`DEFAULT_MODEL` if there is none)."""
    if MODEL_KEY not in constants:
        return DEFAULT_MODEL
    references = np.unique(np.asarray(constants[MODEL_KEY]).astype(str))
    if len(references) != 1:
        raise ValueError(f"a constants table holds one neuron model, got {list(references)}")
    return str(references[0])


def model_of(constants: Mapping) -> NeuronModel:
    """The model of a constants table (:func:`reference_of`)."""
    return get_model(reference_of(constants))
