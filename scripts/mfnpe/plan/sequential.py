"""Which sequential runs the workflow does and the settings each of their jobs depends on.

Light on purpose (no numpy, no torch): ``workflow/rules/sequential.smk`` imports it. A
sequential run is a chain ``(recording, method, seed)`` of rounds; round r proposes
``simulations_per_round`` parameters (``lf_simulations_per_round`` for LF-TSNPE; split
into simulation shards) and trains one network per ensemble member on every round's
simulations so far. When LF-TSNPE runs, the HF chains of the MF methods start from its
network after its last round (same recording and seed) instead of the amortized
LF-pretrained one. Every job of a chain carries the chain's settings, so a config edit
re-runs exactly the chains it touches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mfnpe.names import PRETRAINED, SEQUENTIAL_FIDELITY, SEQUENTIAL_STANDARDIZATION
from mfnpe.names import SEQUENTIAL_METHODS as METHODS
from mfnpe.plan import runs, shards
from mfnpe.plan.config import ConfigError
from mfnpe.plan.observations import protocol

TRAINING_SECTION = {"tsnpe": "npe", "lf_tsnpe": "pretrain", "mf_tsnpe": "finetune",
                    "a_mf_tsnpe": "finetune"}
"""Method -> the ``inference`` training settings it uses (TSNPE trains like NPE, LF-TSNPE
like the LF pretraining, the MF methods fine-tune like MF-NPE)."""
LF_CHAIN = "lf_tsnpe"
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


def fidelity(method: str) -> str:
    """The simulator of ``method``'s rounds: ``lf`` or ``hf``."""
    if method not in METHODS:
        raise ValueError(f"unknown sequential method {method!r}; known: {METHODS}")
    return SEQUENTIAL_FIDELITY[method]


def per_round(config: Mapping, method: str) -> int:
    """Simulations per round of ``method``."""
    section = config["sequential"]
    return section["lf_simulations_per_round" if fidelity(method) == "lf"
                   else "simulations_per_round"]


def rounds(config: Mapping, method: str) -> int:
    """Rounds of ``method``'s chains."""
    return config["sequential"]["lf_rounds" if fidelity(method) == "lf" else "rounds"]


def shards_per_round(config: Mapping, method: str) -> int:
    """Simulation shards (jobs) per round of ``method`` (``shards/lf`` or ``shards/hf``
    simulations each)."""
    return math.ceil(per_round(config, method) / config["shards"][fidelity(method)])


def shard_rows(config: Mapping, method: str, shard: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of a round's parameters that shard ``shard`` simulates."""
    size, n = config["shards"][fidelity(method)], per_round(config, method)
    return shard * size, min((shard + 1) * size, n)


def pretrained_run(config: Mapping, seed: int) -> dict:
    """The LF-pretrained model an MF chain starts from: largest LF size, same seed."""
    return dict(method="lf_npe", n_lf=max(config["budgets"]["n_lf"]), n_hf=0, seed=int(seed))


def starts_from_lf_chain(config: Mapping, method: str) -> bool:
    """Whether ``method``'s chains start from LF-TSNPE's last round (an MF method's HF
    rounds, when LF-TSNPE runs too) rather than from the amortized LF-pretrained model."""
    return (PRETRAINED[method] and fidelity(method) == "hf"
            and LF_CHAIN in config["sequential"]["methods"])


def budget(config: Mapping, method: str, round_: int) -> tuple[int, int]:
    """(LF, HF) simulations behind a chain of ``method`` after round ``round_``: the
    pretraining's and every round's (an MF chain started from LF-TSNPE counts its LF
    rounds too)."""
    n_lf = pretrained_run(config, 0)["n_lf"] if PRETRAINED[method] else 0
    if fidelity(method) == "lf":
        return n_lf + int(round_) * per_round(config, method), 0
    if starts_from_lf_chain(config, method):
        n_lf = budget(config, LF_CHAIN, rounds(config, LF_CHAIN))[0]
    return n_lf, int(round_) * per_round(config, method)


def chain_settings(config: Mapping, recording: str, method: str, seed: int) -> dict:
    """Everything the rounds of one chain depend on besides the recording's file: the
    algorithm, network, training, prior, HF simulation, protocol, features, seeds and (MF
    methods) the pretrained model's settings and ``standardization`` ("keep";
    ``mfnpe.names.SEQUENTIAL_STANDARDIZATION``). ``rounds`` is not among them: round r does
    not depend on how many follow it."""
    if method not in METHODS:
        raise ValueError(f"unknown sequential method {method!r}; known: {METHODS}")
    section, inference = config["sequential"], config["inference"]
    algorithm = {key: section[key] for key in ("truncation_quantile", "support_samples")}
    algorithm["simulations_per_round"] = per_round(config, method)
    if method == "a_mf_tsnpe":
        algorithm.update({key: section[key] for key in ACQUISITION_KEYS})
    settings = {
        "recording": recording,
        "method": method,
        "seed": int(seed),
        "master_seed": config["seed"],
        "algorithm": algorithm,
        "prior": shards.prior_copy(config["prior"]),
        "network": runs.network_settings(config),
        "training": dict(inference[TRAINING_SECTION[method]]),
        "simulation": shards.simulation_settings(config, fidelity(method)),
        "protocol": protocol(config, recording),
        "features": list(config["features"]),
    }
    if SEQUENTIAL_STANDARDIZATION[method] != "auto":  # only then: TSNPE and LF-TSNPE chains
        # keep the settings they had before the key, and so their files
        settings["standardization"] = SEQUENTIAL_STANDARDIZATION[method]
    if starts_from_lf_chain(config, method):  # what the LF chain's last member stores
        settings["pretrained"] = member_settings(
            chain_settings(config, recording, LF_CHAIN, seed), rounds(config, LF_CHAIN), 0)
    elif PRETRAINED[method]:
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


def start_settings(chain: Mapping, round_: int, members: Sequence[int]) -> list[dict]:
    """The settings of the networks round ``round_`` starts from, one per entry of
    ``members``: the LF-pretrained network's before round 1 (MF methods; TSNPE starts from
    none), else each member's after the previous round."""
    if round_ == 1:
        return [chain["pretrained"] for _ in members]
    return [member_settings(chain, round_ - 1, member) for member in members]


def observe_settings(config: Mapping, recording: str) -> dict:
    """What a recording's sequential posteriors depend on: every chain's settings (its
    models' settings follow from them), the rounds, the draw count and the master seed."""
    section = config["sequential"]
    return {
        "chains": [chain_settings(config, **chain) for chain in chains(config, [recording])],
        "rounds": {method: rounds(config, method) for method in section["methods"]},
        "members": {method: members(config, method) for method in section["methods"]},
        "posterior_samples": config["evaluation"]["posterior_samples"],
        "seed": config["seed"],
    }


def posterior_runs(config: Mapping, recording: str) -> list[dict]:
    """The posteriors of a recording's sequential chains, after every round: dicts
    method, n_lf and n_hf (the LF and HF simulations behind it, :func:`budget`), seed,
    round — in the order of ``observe_settings``' chains."""
    found = []
    for chain in chains(config, [recording]):
        method = chain["method"]
        for r in range(1, rounds(config, method) + 1):
            n_lf, n_hf = budget(config, method, r)
            found.append(dict(method=method, n_lf=n_lf, n_hf=n_hf, seed=chain["seed"],
                              round=r))
    return found


def final_runs(config: Mapping, recording: str) -> list[dict]:
    """The sequential posteriors a recording's predictive check simulates: every method's
    chain of seed 0 after its last round (run keys method, n_lf, n_hf, seed); none when
    the recording has no sequential chains."""
    chosen = config["sequential"]["recordings"]
    if not enabled(config) or (chosen and recording not in chosen):
        return []
    return [{key: run[key] for key in ("method", "n_lf", "n_hf", "seed")}
            for run in posterior_runs(config, recording)
            if run["seed"] == 0 and run["round"] == rounds(config, run["method"])]
