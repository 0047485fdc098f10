"""What the sequential rules' scripts share: a chain's seed, its observation and the
networks a round starts from (see ``mfnpe.plan.sequential`` for the chain settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mfnpe.inference import Posterior
from mfnpe.inference.sequential import SequentialSettings, member_seed
from mfnpe.plan.sequential import member_settings
from mfnpe.seeds import observation_seeds


def chain_seed(chain: Mapping) -> int:
    """The int seed of a chain (recording, method, seed) under the master seed; every
    proposal and training seed of the chain derives from it (``member_seed``)."""
    return int(observation_seeds(chain["master_seed"], "sequential", chain["recording"], 1,
                                 chain["method"], chain["seed"])[0])


def job_seed(chain: Mapping, round_: int, member: int, purpose: str) -> int:
    return member_seed(chain_seed(chain), chain["method"], round_, member, purpose)


def algorithm(chain: Mapping) -> SequentialSettings:
    return SequentialSettings.from_dict(chain["algorithm"])


def load_members(paths: Sequence[str], chain: Mapping, round_: int,
                 members: Sequence[int] | None = None) -> list[Posterior]:
    """The chain's ``members`` (default: all, in order) after round ``round_``, checked
    against their settings."""
    members = range(len(paths)) if members is None else members
    return [Posterior.load(path, member_settings(chain, round_, member))
            for member, path in zip(members, paths, strict=True)]


def load_start(paths: Sequence[str], chain: Mapping, round_: int,
               members: Sequence[int] | None = None) -> list[Posterior]:
    """The networks round ``round_`` starts from: the LF-pretrained one before round 1
    (MF methods; none for TSNPE), else the members after the previous round."""
    if round_ == 1:
        return [Posterior.load(path, chain["pretrained"]) for path in paths]
    return load_members(paths, chain, round_ - 1, members)
