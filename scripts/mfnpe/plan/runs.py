"""Which models the workflow trains and the settings each depends on.

Light on purpose (no numpy, no torch): ``workflow/rules/common.smk`` imports it. A model
is a run ``(method, n_lf, n_hf, seed)``: ``lf_npe`` has n_hf = 0 and ``npe`` has n_lf = 0,
so every model file and evaluation follows one path pattern. The settings of a run are
exactly what its weights depend on — data (pool prefix, simulator...), network, training
and seed — so Snakemake's params trigger retrains only what a config edit touched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mfnpe.names import METHODS
from mfnpe.plan import shards
from mfnpe.stimulus.sweeps import split_name, stimulus_names

TRAINING_SECTION = {"lf_npe": "pretrain", "mf_npe": "finetune", "npe": "npe"}
DATA_POOL = {"lf_npe": "lf", "mf_npe": "hf", "npe": "hf"}
RUN_NAME = "nlf-{n_lf}_nhf-{n_hf}_seed-{seed}"
RUN_PATTERN = r"nlf-(\d+)_nhf-(\d+)_seed-(\d+)"


def run_name(n_lf: int, n_hf: int, seed: int) -> str:
    return RUN_NAME.format(n_lf=n_lf, n_hf=n_hf, seed=seed)


def runs(config: Mapping) -> list[dict]:
    """Every model of the config: dicts with method, n_lf, n_hf, seed. NPE is also trained
    at ``budgets.n_hf_npe_only`` (its reference curve for the saving factor)."""
    seeds = range(config["inference"]["seeds"])
    n_lfs, n_hfs = config["budgets"]["n_lf"], config["budgets"]["n_hf"]
    found = [dict(method="lf_npe", n_lf=n_lf, n_hf=0, seed=s) for n_lf in n_lfs for s in seeds]
    found += [dict(method="mf_npe", n_lf=n_lf, n_hf=n_hf, seed=s)
              for n_lf in n_lfs for n_hf in n_hfs for s in seeds]
    npe_budgets = sorted({*n_hfs, *config["budgets"].get("n_hf_npe_only", [])})
    found += [dict(method="npe", n_lf=0, n_hf=n_hf, seed=s) for n_hf in npe_budgets for s in seeds]
    return found


def data_settings(config: Mapping, pool: str, n: int) -> dict:
    """The first ``n`` simulations of ``pool``: everything their content depends on."""
    return {
        "pool": pool,
        "n": int(n),
        "prior": shards.prior_copy(config["prior"]),
        "seed": config["seed"],
        "shard_size": config["shards"][pool],
        "simulation": shards.simulation_settings(config, pool),
    }


def shards_needed(data: Mapping) -> int:
    """Number of leading shards holding the first ``data['n']`` simulations."""
    return math.ceil(data["n"] / data["shard_size"])


def expected_shard_settings(data: Mapping, shard: int) -> dict:
    """What shard ``shard`` of the data's pool must have been written under."""
    prior = shards.shard_prior_settings(data["prior"], data["seed"], data["pool"], shard,
                                        data["shard_size"])
    return {**prior, **data["simulation"]}


def prefix_shard_settings(data: Mapping) -> list[dict]:
    """What each leading shard holding the first ``data['n']`` simulations must have been
    written under, in shard order (``mfnpe.simulation.pools.load_prefix`` checks them)."""
    return [expected_shard_settings(data, k) for k in range(shards_needed(data))]


def pool_label(data: Mapping) -> str:
    """How messages name the data's pool: ``"hf pool"``."""
    return f"{data['pool']} pool"


def training_settings(inference: Mapping, method: str) -> dict:
    """The training section of ``method``; ``validate_start`` only where training starts
    warm (MF-NPE's fine-tuning), since the weights of a cold start do not depend on it."""
    training = dict(inference[TRAINING_SECTION[method]])
    if method != "mf_npe":
        training.pop("validate_start", None)
    return training


def network_settings(config: Mapping) -> dict:
    """The config's ``inference.network`` as ``mfnpe.inference.NetworkSettings`` takes it:
    ``log_features`` (feature names) becomes ``log_columns``, the columns of x that hold
    those features (in every sweep); without it, the section as it is."""
    network = dict(config["inference"]["network"])
    log_features = network.pop("log_features", None)
    if log_features:
        bases = [split_name(name)[0] for name in stimulus_names(config)]
        missing = sorted(set(log_features) - set(bases))
        if missing:
            raise ValueError(f"inference.network.log_features: {missing} not among the "
                             f"features {list(config['features'])}")
        network["log_columns"] = [j for j, base in enumerate(bases) if base in log_features]
    return network


def model_settings(config: Mapping, method: str, n_lf: int, n_hf: int, seed: int) -> dict:
    """Everything the weights of run (method, n_lf, n_hf, seed) depend on."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    inference = config["inference"]
    n = n_lf if DATA_POOL[method] == "lf" else n_hf
    settings = {
        "method": method,
        "seed": int(seed),
        "network": network_settings(config),
        "training": training_settings(inference, method),
        "data": data_settings(config, DATA_POOL[method], n),
    }
    if method == "mf_npe":
        settings["pretrained"] = model_settings(config, "lf_npe", n_lf, 0, seed)
        settings["refit_standardization"] = inference["refit_standardization"]
    return settings


def evaluation_settings(config: Mapping) -> dict:
    """What an evaluation depends on besides its model: the test data, the draw count and
    the calibration tests' level."""
    return {
        "test": data_settings(config, "test", config["budgets"]["n_test"]),
        "posterior_samples": config["evaluation"]["posterior_samples"],
        "pairplot_observations": config["evaluation"]["pairplot_observations"],
        "calibration_level": config["evaluation"]["calibration_level"],
        "seed": config["seed"],
    }


def calibration_budgets(config: Mapping) -> list[int]:
    """HF budgets of the calibration figures: ``evaluation.calibration_budgets``, or the
    smallest and the largest of ``budgets.n_hf`` when that list is empty."""
    n_hfs = config["budgets"]["n_hf"]
    return sorted(set(config["evaluation"]["calibration_budgets"] or (min(n_hfs), max(n_hfs))))
