"""Which sequential runs the workflow does and the settings each of their jobs depends on.

Light on purpose (no numpy, no torch): ``workflow/rules/sequential.smk`` imports it. A
sequential run is a chain ``(recording, method, seed)`` of rounds; round r proposes
``simulations_per_round`` parameters (split into HF simulation shards) and trains one
network per ensemble member on every round's simulations so far. Every job of a chain
carries the chain's settings, so a config edit re-runs exactly the chains it touches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mfnpe.names import PRETRAINED
from mfnpe.names import SEQUENTIAL_METHODS as METHODS
from mfnpe.plan import runs, shards
from mfnpe.plan.config import ConfigError
from mfnpe.plan.observations import protocol

TRAINING_SECTION = {"tsnpe": "npe", "mf_tsnpe": "finetune", "a_mf_tsnpe": "finetune"}
"""Method -> the ``inference`` training settings it uses (TSNPE trains like NPE, the MF
methods fine-tune like MF-NPE)."""
ACQUISITION_KEYS = ("ensemble_size", "acquisition_fraction", "acquisition_candidates")
CHAIN_POOL = "sequential/{recording}/{method}/seed-{seed}/round-{round}"
"""The pool name of a round's shards: it keys their simulation seeds (``mfnpe.seeds``)."""


def enabled(config: Mapping) -> bool:
    return bool(config["sequential"]["methods"])


def recordings(config: Mapping, available) -> list[str]:
    """The recordings of the sequential stage: ``sequential.recordings``, or all of
    ``available`` (the names of every recording) when that list is empty."""
    chosen = list(config["sequential"]["recordings"]) or list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ConfigError(f"config key sequential/recordings: no recording named {unknown}; the "
                          f"recordings are {sorted(available)}")
    return chosen


def chains(config: Mapping, recordings) -> list[dict]:
    """Every sequential run: dicts recording, method, seed (none when switched off)."""
    section = config["sequential"]
    return [dict(recording=name, method=method, seed=seed) for name in recordings
            for method in section["methods"] for seed in range(section["seeds"])]


def members(config: Mapping, method: str) -> int:
    """Networks trained per round (the ensemble of ``a_mf_tsnpe``, else one)."""
    return config["sequential"]["ensemble_size"] if method == "a_mf_tsnpe" else 1


def shards_per_round(config: Mapping) -> int:
    """HF simulation shards (jobs) per round."""
    return math.ceil(config["sequential"]["simulations_per_round"] / config["shards"]["hf"])


def shard_rows(config: Mapping, shard: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of a round's parameters that shard ``shard`` simulates."""
    size, n = config["shards"]["hf"], config["sequential"]["simulations_per_round"]
    return shard * size, min((shard + 1) * size, n)


def pretrained_run(config: Mapping, seed: int) -> dict:
    """The LF-pretrained model an MF chain starts from: largest LF size, same seed."""
    return dict(method="lf_npe", n_lf=max(config["budgets"]["n_lf"]), n_hf=0, seed=int(seed))


def budget(config: Mapping, round_: int) -> int:
    """Total HF simulations of a chain after round ``round_``."""
    return int(round_) * config["sequential"]["simulations_per_round"]


def chain_settings(config: Mapping, recording: str, method: str, seed: int) -> dict:
    """Everything the rounds of one chain depend on besides the recording's file: the
    algorithm, network, training, prior, HF simulation, protocol, features, seeds and (MF
    methods) the pretrained model's settings. ``rounds`` is not among them: round r does
    not depend on how many follow it."""
    if method not in METHODS:
        raise ValueError(f"unknown sequential method {method!r}; known: {METHODS}")
    section, inference = config["sequential"], config["inference"]
    algorithm = {key: section[key] for key in
                 ("simulations_per_round", "truncation_quantile", "support_samples")}
    if method == "a_mf_tsnpe":
        algorithm.update({key: section[key] for key in ACQUISITION_KEYS})
    settings = {
        "recording": recording,
        "method": method,
        "seed": int(seed),
        "master_seed": config["seed"],
        "algorithm": algorithm,
        "prior": shards.prior_copy(config["prior"]),
        "network": dict(inference["network"]),
        "training": dict(inference[TRAINING_SECTION[method]]),
        "simulation": shards.simulation_settings(config, "hf"),
        "protocol": protocol(config),
        "features": list(config["features"]),
    }
    if PRETRAINED[method]:
        settings["pretrained"] = runs.model_settings(config, **pretrained_run(config, seed))
    return settings


def proposal_settings(chain: Mapping, round_: int, shard: int) -> dict:
    """The settings stored in (and expected of) the parameter file of one round's shard;
    ``seed``, ``pool`` and ``shard`` key the shard's simulation seeds."""
    pool = CHAIN_POOL.format(recording=chain["recording"], method=chain["method"],
                             seed=chain["seed"], round=int(round_))
    return {"chain": dict(chain), "round": int(round_), "seed": chain["master_seed"],
            "pool": pool, "shard": int(shard)}


def shard_settings(chain: Mapping, round_: int, shard: int) -> dict:
    """The settings stored in (and expected of) one round's simulation shard."""
    return {**proposal_settings(chain, round_, shard), **chain["simulation"]}


def member_settings(chain: Mapping, round_: int, member: int) -> dict:
    """The settings stored in (and expected of) one member's model after round ``round_``."""
    return {"chain": dict(chain), "round": int(round_), "member": int(member)}


def observe_settings(config: Mapping, recording: str) -> dict:
    """What a recording's sequential posteriors depend on: every chain's settings (its
    models' settings follow from them), the rounds, the draw count and the master seed."""
    section = config["sequential"]
    return {
        "chains": [chain_settings(config, **chain) for chain in chains(config, [recording])],
        "rounds": section["rounds"],
        "members": {method: members(config, method) for method in section["methods"]},
        "posterior_samples": config["evaluation"]["posterior_samples"],
        "seed": config["seed"],
    }


def posterior_runs(config: Mapping, recording: str) -> list[dict]:
    """The posteriors of a recording's sequential chains, after every round: dicts
    method, n_lf (the pretrained model's LF size, 0 for TSNPE), n_hf (the total HF budget
    so far), seed, round — in the order of ``observe_settings``' chains."""
    found = []
    for chain in chains(config, [recording]):
        n_lf = pretrained_run(config, chain["seed"])["n_lf"] if PRETRAINED[chain["method"]] else 0
        found += [dict(method=chain["method"], n_lf=n_lf, n_hf=budget(config, r),
                       seed=chain["seed"], round=r)
                  for r in range(1, config["sequential"]["rounds"] + 1)]
    return found
