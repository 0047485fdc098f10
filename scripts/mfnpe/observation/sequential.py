"""What the sequential rules' scripts share: a chain's seeds, its algorithm settings and
its networks loaded against the settings they were saved with (the chain settings and
those of its networks: ``mfnpe.plan.sequential``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mfnpe.inference import Posterior
from mfnpe.inference.sequential import SequentialSettings, member_seed
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


def load_networks(paths: Sequence[str], expected: Sequence[Mapping]) -> list[Posterior]:
    """The networks in ``paths``, each checked against its ``expected`` settings
    (``mfnpe.plan.sequential.member_settings`` or ``start_settings``), in order."""
    return [Posterior.load(path, settings) for path, settings in zip(paths, expected, strict=True)]
