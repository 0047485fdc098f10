"""The registry of neuron models: the one source of model names.

A model is data (:class:`mfnpe.hh.channels.NeuronModel`): its constants, channels and
rate functions, one module per model here. Adding a model
(docs/method.md, "Adding a model"): write its module, add it to :data:`MODELS` below
(and its name and defaults to the config schema's ``model`` section), and give its
``kernel_id`` a branch in ``mfnpe.hh.markov._rates_at`` (the numba kernels' rates; a test
fails until it has one) unless it reuses an existing model's rates.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def get_model(name: str) -> NeuronModel:
    if name not in MODELS:
        raise ValueError(f"unknown neuron model {name!r}; known: {list(MODELS)}")
    return MODELS[name]


def model_of(constants: Mapping) -> NeuronModel:
    """The model of a constants table (one model per table; classic if none is named)."""
    if MODEL_KEY not in constants:
        return MODELS[DEFAULT_MODEL]
    names = np.unique(np.asarray(constants[MODEL_KEY]).astype(str))
    if len(names) != 1:
        raise ValueError(f"a constants table holds one neuron model, got {list(names)}")
    return get_model(str(names[0]))
