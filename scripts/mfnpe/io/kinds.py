"""Every kind of file the workflow writes, in one place.

A file's kind names its schema and version: HDF5 files carry it as the ``kind``
attribute, model files as the ``kind`` entry of their state dict. Readers check it; the
startup check (``mfnpe.plan.integrity``) compares it with the kind the file's path in
``results/`` says it must hold. Plain Python (no imports), so the Snakefile can read it.
"""

PRIOR_SHARD = "mfnpe/prior-shard/1"
"""Parameter draws of one shard of a pool (``theta``)."""
SIM_SHARD = "mfnpe/sim-shard/1"
"""Simulations of one shard (``theta``, ``x``, ``valid``, optional ``traces``)."""
MODEL = "mfnpe/posterior/1"
"""A trained posterior network (a torch state dict and its settings)."""
EVALUATION = "mfnpe/eval/2"
"""A model's metrics on the HF test set."""
OBSERVATION_POSTERIOR = "mfnpe/observation-posterior/2"
"""Posterior samples of every model for one recording."""
PREDICTIVE_CHECK = "mfnpe/predictive-check/2"
"""Posterior-predictive simulations for one recording."""
MISSPECIFICATION = "mfnpe/misspecification/1"
"""A recording's misspecification verdict."""
