"""Sequential, per-observation inference: TSNPE, MF-TSNPE and A-MF-TSNPE.

Truncated sequential NPE (Deistler et al. 2022) spends each round's simulations on the
prior truncated to the current posterior's highest-density region at the observation
x_o, so the maximum-likelihood NPE loss stays valid: inside that region the proposal is
proportional to the prior. The network keeps training across rounds, each round on all
simulations so far, starting from the previous round's weights.

- ``tsnpe``: round 1 from the prior, a network trained from scratch.
- ``mf_tsnpe``: starts from the LF-pretrained network (Krouglova et al.), which already
  truncates round 1's proposal.
- ``a_mf_tsnpe``: ``ensemble_size`` fine-tuned copies of the LF-pretrained network; the
  posterior is their equal-weight mixture, and from round 2 a fraction of each round's
  parameters is acquired among candidates from the truncated prior: those where
  log q_e(theta | x_o) varies most across the members e.

The workflow runs one proposal, the simulation shards and one training per member as
separate jobs (``workflow/rules/sequential.smk``); :func:`run_rounds` is the same loop in
one process, for the tests and for a user's own simulator.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sbi.utils import RestrictedPrior, get_density_thresholder

from mfnpe.inference.networks import NetworkSettings, SettingsDict
from mfnpe.inference.posterior import Posterior
from mfnpe.inference.priors import torch_distribution
from mfnpe.inference.train import TrainingSettings, train_npe
from mfnpe.names import PRETRAINED
from mfnpe.names import SEQUENTIAL_METHODS as METHODS
from mfnpe.prior import BoxPrior

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class SequentialSettings(SettingsDict):
    """The rounds of one sequential method.

    rounds : HF simulation rounds; the total HF budget is rounds * simulations_per_round.
    simulations_per_round : HF simulations per round.
    truncation_quantile : posterior mass left outside the truncated prior (1e-4: the
        99.99% highest-density region of q(theta | x_o)).
    support_samples : posterior draws that estimate the density threshold of that region.
    ensemble_size : networks of ``a_mf_tsnpe`` (the other methods use one).
    acquisition_fraction : share of a round's parameters ``a_mf_tsnpe`` acquires.
    acquisition_candidates : truncated-prior candidates per acquired parameter.
    """

    rounds: int = 4
    simulations_per_round: int = 50
    truncation_quantile: float = 1e-4
    support_samples: int = 100_000
    ensemble_size: int = 3
    acquisition_fraction: float = 0.25
    acquisition_candidates: int = 20
    section = "sequential"

    def members(self, method: str) -> int:
        """Networks trained per round by ``method``."""
        check_method(method)
        return self.ensemble_size if method == "a_mf_tsnpe" else 1

    def acquired(self, method: str, round_: int) -> int:
        """Parameters of round ``round_`` (1-based) chosen by acquisition: only
        ``a_mf_tsnpe`` from round 2 (before, its members are all the pretrained network)."""
        if method != "a_mf_tsnpe" or round_ < 2 or self.ensemble_size < 2:
            return 0
        return int(round(self.acquisition_fraction * self.simulations_per_round))


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown sequential method {method!r}; known: {METHODS}")


class Ensemble:
    """Equal-weight mixture q(theta | x) = mean_e q_e(theta | x) of E posteriors over one
    box prior; one member is a plain posterior."""

    def __init__(self, members: Sequence[Posterior]):
        if not members:
            raise ValueError("an ensemble needs at least one posterior")
        names = {member.prior.names for member in members}
        if len(names) != 1:
            raise ValueError(f"ensemble members infer different parameters: {sorted(names)}")
        self.members = list(members)
        self.prior = self.members[0].prior
        self.feature_names = self.members[0].feature_names

    def member_log_probs(self, theta, x) -> np.ndarray:
        """(E, m) log q_e(theta_i | x_i) for theta (m, d) and x (m, f), or one x (f,) for
        every theta [nats, theta units]."""
        theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return np.stack([member.log_prob(theta, x) for member in self.members])

    def log_prob(self, theta, x) -> np.ndarray:
        """(m,) log of the mixture density at theta (m, d) for x (m, f) or one x (f,)."""
        per_member = self.member_log_probs(theta, x)
        with np.errstate(divide="ignore"):
            return np.logaddexp.reduce(per_member, axis=0) - np.log(len(self.members))

    def sample(self, x, n: int, seed: int | None = None) -> np.ndarray:
        """(n, d) draws from the mixture for one x (f,), in random member order."""
        rng = np.random.default_rng(seed)
        if n == 0:
            return np.empty((0, self.prior.dim))
        counts = rng.multinomial(n, np.full(len(self.members), 1.0 / len(self.members)))
        draws = [member.sample(x, int(count), seed=int(rng.integers(2**31)))
                 for member, count in zip(self.members, counts) if count]
        return rng.permutation(np.concatenate(draws))


class _AtObservation:
    """q(theta | x_o) as the torch distribution sbi's restriction tools expect
    (``sample(shape)`` and ``log_prob(theta)`` on float32 tensors); keeps its last draws
    (``last_draws``: those sbi's thresholder estimated the density threshold from)."""

    def __init__(self, posterior: Ensemble, x_o: np.ndarray):
        self.posterior = posterior
        self.x_o = np.asarray(x_o, dtype=np.float64)
        self.last_draws: np.ndarray | None = None

    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        n = int(np.prod(tuple(sample_shape)))
        seed = int(torch.randint(2**31 - 1, ()).item())  # follows torch's seeded stream
        self.last_draws = self.posterior.sample(self.x_o, n, seed=seed)
        return torch.as_tensor(self.last_draws, dtype=torch.float32)

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        values = self.posterior.log_prob(theta.reshape(-1, theta.shape[-1]).numpy(), self.x_o)
        return torch.as_tensor(values, dtype=torch.float32)


REGION_MARGIN = 0.1
"""The truncated prior is drawn by rejection from the box around the posterior's draws
inside the truncated region, widened by this share of its width on each side."""


def region_box(prior: BoxPrior, inside: np.ndarray, margin: float = REGION_MARGIN
               ) -> tuple[BoxPrior, float]:
    """The prior restricted to the bounding box of ``inside`` (m, d) draws of the truncated
    region, widened by ``margin`` of the box's width on each side (in log theta for a
    log-uniform parameter) and cut to the prior's box, and the prior mass of that box."""
    log = np.array([kind == "log" for kind in prior.scale])

    def coordinate(values):
        return np.where(log, np.log(np.where(log, values, 1.0)), values)

    lo, hi = coordinate(inside.min(axis=0)), coordinate(inside.max(axis=0))
    box_lo, box_hi = coordinate(prior.low), coordinate(prior.high)
    pad = margin * (hi - lo)
    lo, hi = np.maximum(lo - pad, box_lo), np.minimum(hi + pad, box_hi)
    degenerate = ~(hi > lo)  # a single draw, or a flat direction: keep the prior's extent
    lo, hi = np.where(degenerate, box_lo, lo), np.where(degenerate, box_hi, hi)
    low = np.clip(np.where(log, np.exp(lo), lo), prior.low, prior.high)
    high = np.clip(np.where(log, np.exp(hi), hi), prior.low, prior.high)
    mass = float(np.prod((hi - lo) / (box_hi - box_lo)))
    return BoxPrior(prior.names, low, high, prior.scale), mass


def truncated_prior(posterior: Ensemble, x_o, settings: SequentialSettings
                    ) -> tuple[RestrictedPrior, float]:
    """The prior restricted to {theta : q(theta | x_o) above the density exceeded by a
    ``1 - truncation_quantile`` share of q's mass} (sbi's thresholder and rejection
    sampler; seed torch first for reproducible draws), and the prior mass its rejection
    sampler draws from.

    A box prior is first cut to the box around q's draws above the threshold
    (:func:`region_box`): rejection from the whole box accepts no draw when the region is a
    small corner of it (a sharp posterior, a recording far from the prior's bulk), and a box
    prior restricted to a sub-box is the same prior there. Other priors draw from the whole
    prior."""
    at_x = _AtObservation(posterior, x_o)
    threshold = get_density_thresholder(at_x, quantile=settings.truncation_quantile,
                                        num_samples_to_estimate_support=settings.support_samples)
    prior, mass = posterior.prior, 1.0
    if isinstance(prior, BoxPrior):
        draws = torch.as_tensor(at_x.last_draws, dtype=torch.float32)
        inside = at_x.last_draws[threshold(draws).numpy()]
        if len(inside):
            prior, mass = region_box(prior, inside)
    return RestrictedPrior(torch_distribution(prior), threshold, sample_with="rejection"), mass


def _draw(restricted: RestrictedPrior, n: int) -> tuple[np.ndarray, float]:
    """(n, d) float64 draws and the acceptance rate of the rejection sampler."""
    with contextlib.redirect_stdout(io.StringIO()):  # sbi prints its rejection rate
        theta = restricted.sample((n,), save_acceptance_rate=True, print_rejected_frac=False)
    return theta.numpy().astype(np.float64), float(restricted.acceptance_rate)


def acquisition_scores(ensemble: Ensemble, theta, x_o) -> np.ndarray:
    """(m,) variance across members of log q_e(theta_i | x_o): their disagreement."""
    return ensemble.member_log_probs(theta, x_o).var(axis=0)


@dataclass
class Proposal:
    """One round's parameters.

    theta : (n, d) the parameters to simulate, columns ``prior.names``.
    acquired : (n,) bool, True for rows chosen by acquisition.
    acceptance_rate : share of the prior inside the truncated region (1: the prior),
        estimated as the rejection sampler's acceptance times the prior mass it drew from.
    """

    theta: np.ndarray
    acquired: np.ndarray
    acceptance_rate: float


def propose(prior: BoxPrior, current: Ensemble | None, x_o, n: int, n_acquired: int,
            settings: SequentialSettings, seed: int) -> Proposal:
    """``n`` parameters for the next round: the prior when there is no posterior yet,
    else the truncated prior, of which ``n_acquired`` rows are the candidates (drawn from
    it too) with the highest :func:`acquisition_scores`."""
    if current is None:
        if n_acquired:
            raise ValueError("acquisition needs a current ensemble")
        theta = prior.sample(n, np.random.default_rng(seed))
        return Proposal(theta, np.zeros(n, bool), 1.0)
    if not 0 <= n_acquired <= n:
        raise ValueError(f"cannot acquire {n_acquired} of {n} parameters")
    torch.manual_seed(seed)
    restricted, mass = truncated_prior(current, x_o, settings)
    theta, rate = np.empty((0, prior.dim)), None
    if n > n_acquired:
        theta, rate = _draw(restricted, n - n_acquired)
    acquired = np.zeros(n, bool)
    if n_acquired:
        candidates, candidate_rate = _draw(restricted, n_acquired * settings.acquisition_candidates)
        rate = candidate_rate if rate is None else rate
        best = np.argsort(-acquisition_scores(current, candidates, x_o), kind="stable")
        theta = np.concatenate([theta, candidates[best[:n_acquired]]])
        acquired[n - n_acquired:] = True
    rate *= mass  # of the whole prior: the sampler drew from a share ``mass`` of it
    log.info("proposal: %d parameters (%d acquired), %.3g%% of the prior accepted",
             n, n_acquired, 100 * rate)
    return Proposal(theta, acquired, rate)


def member_seed(seed: int, method: str, round_: int, member: int, purpose: str) -> int:
    """An int seed for one member's training (``purpose`` 'training') or one round's
    proposal ('proposal', member 0) of a sequential run with seed ``seed``."""
    check_method(method)
    keys = {"training": 0, "proposal": 1}
    sequence = np.random.SeedSequence(
        seed, spawn_key=(METHODS.index(method), int(round_), int(member), keys[purpose]))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def train_member(theta, x, prior: BoxPrior, start: Posterior | None,
                 network: NetworkSettings, training: TrainingSettings, seed: int,
                 **kwargs) -> Posterior:
    """One member after a round: trained on all HF simulations so far (theta (n, d),
    x (n, f), invalid rows already dropped), from ``start``'s weights (its z-scoring kept)
    or, without ``start``, from scratch with ``network``."""
    if start is not None:
        network = start.network
    return train_npe(theta, x, prior, network, training, seed=seed, init=start, **kwargs)


def run_rounds(method: str, simulate: Callable[[np.ndarray], np.ndarray], x_o, prior: BoxPrior,
               settings: SequentialSettings, network: NetworkSettings = NetworkSettings(),
               training: TrainingSettings = TrainingSettings(), *, seed: int = 0,
               pretrained: Posterior | None = None) -> list[Ensemble]:
    """Every round of ``method`` for the observation ``x_o`` (f,) in one process.

    ``simulate`` maps theta (n, d) to x (n, f) (NaN rows: invalid, dropped); the MF
    methods need the LF-``pretrained`` posterior. Returns the posterior after each round.
    """
    check_method(method)
    if PRETRAINED[method] and pretrained is None:
        raise ValueError(f"{method} starts from an LF-pretrained posterior: pass pretrained")
    members = [pretrained] * settings.members(method) if PRETRAINED[method] else [None]
    current = Ensemble(members) if PRETRAINED[method] else None
    theta_all, x_all, history = [], [], []
    for round_ in range(1, settings.rounds + 1):
        proposal = propose(prior, current, x_o, settings.simulations_per_round,
                           settings.acquired(method, round_), settings,
                           member_seed(seed, method, round_, 0, "proposal"))
        theta_all.append(proposal.theta)
        x_all.append(np.asarray(simulate(proposal.theta), dtype=np.float64))
        theta, x = np.concatenate(theta_all), np.concatenate(x_all)
        valid = np.isfinite(x).all(axis=1)
        members = [train_member(theta[valid], x[valid], prior, start, network, training,
                                member_seed(seed, method, round_, e, "training"))
                   for e, start in enumerate(members)]
        current = Ensemble(members)
        history.append(current)
    return history

