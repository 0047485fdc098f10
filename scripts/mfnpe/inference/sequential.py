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

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sbi.utils import get_density_thresholder

from mfnpe.inference.networks import NetworkSettings, SettingsDict
from mfnpe.inference.posterior import Posterior
from mfnpe.inference.train import TrainingSettings, train_npe
from mfnpe.names import PRETRAINED, SEQUENTIAL_STANDARDIZATION
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
"""The truncated prior is drawn from the box around the posterior's draws inside the
truncated region, aligned with their principal axes and widened by this share of its
width on each side."""
REJECTION_MIN_RATE = 0.001
"""Below this acceptance of that box, rejection gives way to SIR."""
SIR_CANDIDATES = 20
"""Candidates per drawn parameter of sampling-importance-resampling."""


@dataclass(frozen=True)
class RegionBox:
    """A box around the truncated region in the prior's unit coordinates z (each parameter
    mapped onto [0, 1], through log theta for a log-uniform one, where a box prior is
    uniform), along the principal axes of the region's draws or along the parameters.

    prior : the box prior.
    centre : (d,) z of the box's centre.
    axes : (d, d) orthonormal columns, the box's directions in z.
    half : (d,) half-widths along them.
    in_prior : the share of the box's volume inside the unit cube, the prior's support
        (exactly 1 for a box inside it; else a Monte Carlo estimate, :func:`region_box`).
    """

    prior: BoxPrior
    centre: np.ndarray
    axes: np.ndarray
    half: np.ndarray
    in_prior: float = 1.0

    @property
    def volume(self) -> float:
        """The prior mass of the box's part inside the prior's support."""
        return float(np.prod(2 * self.half)) * self.in_prior

    def _uniform_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        local = (2 * rng.random((n, len(self.half))) - 1) * self.half
        return self.centre + local @ self.axes.T

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, d) theta uniform on the box's part inside the prior's support (uniform
        draws of the box, those outside the unit cube dropped; at most
        :data:`BOX_DRAWS_PER_PASS` at once, whatever the share inside)."""
        parts, found = [], 0
        while found < n:
            wanted = int(np.ceil(1.1 * (n - found) / self.in_prior)) + 16
            z = self._uniform_z(min(wanted, BOX_DRAWS_PER_PASS), rng)
            parts.append(z[((z >= 0) & (z <= 1)).all(axis=1)])
            found += len(parts[-1])
        return self.prior.from_unit(np.concatenate(parts)[:n])

    def contains(self, theta: np.ndarray) -> np.ndarray:
        """(m,) bool: theta (m, d) inside the box."""
        local = (self.prior.to_unit(theta) - self.centre) @ self.axes
        return (np.abs(local) <= self.half).all(axis=1)


BOX_DRAWS_PER_PASS = 2**18
"""Uniform draws of a box per pass when sampling it (about 20 MB in 9 dimensions): a
slanted box mostly outside the prior's support needs many passes, not one huge array."""
IN_PRIOR_DRAWS = 2**17
"""Uniform draws of a slanted box that estimate its share inside the prior's support."""
IN_PRIOR_MIN_HITS = 100
"""Fewer of those inside the support (a share known to worse than 10 %): the box along
the parameters is taken."""


def _box(prior: BoxPrior, z: np.ndarray, axes: np.ndarray, margin: float,
         cut: bool = False) -> RegionBox:
    """The box along ``axes`` around the unit-coordinate draws ``z``, widened by ``margin``
    of its width on each side (a direction without spread keeps the unit cube's extent);
    ``cut``: a box along the parameters (``axes`` the identity) cut to the unit cube."""
    centre = z.mean(axis=0)
    projected = (z - centre) @ axes
    lo, hi = projected.min(axis=0), projected.max(axis=0)
    flat = ~(hi - lo > 1e-12)
    pad = margin * (hi - lo)
    lo, hi = lo - pad, hi + pad
    reach = np.sqrt(z.shape[1])  # the unit cube's diameter
    lo, hi = np.where(flat, -reach, lo), np.where(flat, reach, hi)
    if cut:
        lo, hi = np.maximum(lo, -centre), np.minimum(hi, 1.0 - centre)
    middle = (lo + hi) / 2
    return RegionBox(prior, centre + axes @ middle, axes, (hi - lo) / 2)


def region_box(prior: BoxPrior, inside: np.ndarray, margin: float = REGION_MARGIN
               ) -> RegionBox:
    """The smaller (in prior mass) of two boxes around ``inside`` (m, d) draws of the
    truncated region in the prior's unit coordinates: along their principal axes (a thin
    slanted region) or along the parameters, cut to the prior's support (a region that
    spans much of the prior, where a slanted box in several dimensions lies mostly outside
    the support); each widened by ``margin`` of its width on each side."""
    z = prior.to_unit(inside)
    spread = z - z.mean(axis=0)
    principal = np.linalg.eigh(spread.T @ spread)[1]  # (d, d), for any draw count
    along_axes = _box(prior, z, principal, margin)
    draws = along_axes._uniform_z(IN_PRIOR_DRAWS, np.random.default_rng(0))
    share = float(((draws >= 0) & (draws <= 1)).all(axis=1).mean())
    along_parameters = _box(prior, z, np.eye(z.shape[1]), margin, cut=True)
    if share * IN_PRIOR_DRAWS < IN_PRIOR_MIN_HITS:  # too few inside to estimate the share
        return along_parameters
    along_axes = RegionBox(prior, along_axes.centre, along_axes.axes, along_axes.half,
                           in_prior=share)
    return min((along_axes, along_parameters), key=lambda box: box.volume)


@dataclass
class TruncatedPrior:
    """The prior restricted to the region {theta : q(theta | x_o) >= threshold}.

    prior : the whole prior.
    box : the :class:`RegionBox` around the region (None: draw from the whole prior).
    inside : theta (m, d) -> (m,) bool, membership of the region.
    posterior, x_o : q and the observation (SIR's proposal, when rejection is too slow).
    """

    prior: object
    box: RegionBox | None
    inside: Callable[[np.ndarray], np.ndarray]
    posterior: Ensemble
    x_o: np.ndarray

    def _propose(self, n: int, rng) -> tuple[np.ndarray, float]:
        """Uniform candidates (of the prior, inside the box) from n draws, and the prior mass
        the n draws spread over (the box's volume, or 1)."""
        if self.box is None:
            return self.prior.sample(n, rng), 1.0
        return self.box.sample(n, rng), self.box.volume

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """(n, d) draws and the estimated prior mass of the region.

        Rejection from :attr:`box` (exact) while it accepts at least
        :data:`REJECTION_MIN_RATE` of its draws; below that,
        sampling-importance-resampling from n x :data:`SIR_CANDIDATES` candidates of the
        defensive mixture 1/2 q(theta | x_o) + 1/2 the box's uniform, weighted by
        prior(theta) 1[inside] / mixture(theta) and resampled with replacement (consistent
        as the candidates grow; the mass estimate is the mean weight)."""
        batch = max(10 * n, 10_000)
        theta, volume = self._propose(batch, rng)
        kept = [theta[self.inside(theta)]]
        if len(kept[0]) / batch < REJECTION_MIN_RATE:
            return self._sir(n, rng, len(kept[0]) / batch)
        drawn = batch
        while sum(len(part) for part in kept) < n:
            theta, _ = self._propose(batch, rng)
            kept.append(theta[self.inside(theta)])
            drawn += batch
        accepted = np.concatenate(kept)
        return accepted[:n], len(accepted) / drawn * volume

    def _sir(self, n: int, rng: np.random.Generator, box_rate: float
             ) -> tuple[np.ndarray, float]:
        m = n * SIR_CANDIDATES
        from_q = self.posterior.sample(self.x_o, m // 2, seed=int(rng.integers(2**31)))
        from_q = from_q[self.prior.contains(from_q)]
        uniform, volume = self._propose(m - m // 2, rng)
        candidates = np.concatenate([from_q, uniform])
        log_prior = self.prior.log_prob(candidates)
        log_box = log_prior - np.log(volume)  # the box's uniform density
        if self.box is not None:
            log_box = np.where(self.box.contains(candidates), log_box, -np.inf)
        log_q = self.posterior.log_prob(candidates, self.x_o)
        weight_q = len(from_q) / len(candidates)
        log_mix = np.logaddexp(np.log(weight_q) + log_q, np.log1p(-weight_q) + log_box)
        log_w = np.where(self.inside(candidates), log_prior - log_mix, -np.inf)
        finite = np.isfinite(log_w)
        if not finite.any():
            raise ValueError("no candidate of q(theta | x_o) or of its box lies in the "
                             "truncated region")
        top = log_w[finite].max()
        weights = np.where(finite, np.exp(log_w - top), 0.0)
        mass = float(np.exp(top) * weights.sum() / len(candidates))
        rows = rng.choice(len(candidates), size=n, replace=True, p=weights / weights.sum())
        log.warning("truncated prior: %.3g%% of the box around the region is inside it; "
                    "drawn by SIR from %d candidates (%d inside), an approximation",
                    100 * box_rate, len(candidates), int(finite.sum()))
        return candidates[rows], mass


def truncated_prior(posterior: Ensemble, x_o, settings: SequentialSettings
                    ) -> TruncatedPrior:
    """The prior restricted to {theta : q(theta | x_o) above the density exceeded by a
    ``1 - truncation_quantile`` share of q's mass} (sbi's thresholder; seed torch first
    for a reproducible threshold).

    A box prior is drawn from the box around q's draws above the threshold
    (:func:`region_box`): rejection from the whole prior accepts no draw when the region
    is a small corner of it (a sharp posterior, a recording far from the prior's bulk)
    or a thin slanted sliver, and the prior restricted to a sub-box is uniform there
    (in the prior's unit coordinates). Other priors draw from the whole prior."""
    at_x = _AtObservation(posterior, x_o)
    threshold = get_density_thresholder(at_x, quantile=settings.truncation_quantile,
                                        num_samples_to_estimate_support=settings.support_samples)
    prior, box = posterior.prior, None
    if isinstance(prior, BoxPrior):
        draws = torch.as_tensor(at_x.last_draws, dtype=torch.float32)
        inside = at_x.last_draws[threshold(draws).numpy()]
        if len(inside):
            box = region_box(prior, inside)

    def is_inside(theta: np.ndarray) -> np.ndarray:
        return threshold(torch.as_tensor(theta, dtype=torch.float32)).numpy().astype(bool)

    return TruncatedPrior(prior, box, is_inside, posterior, at_x.x_o)


def acquisition_scores(ensemble: Ensemble, theta, x_o) -> np.ndarray:
    """(m,) variance across members of log q_e(theta_i | x_o): their disagreement."""
    return ensemble.member_log_probs(theta, x_o).var(axis=0)


@dataclass
class Proposal:
    """One round's parameters.

    theta : (n, d) the parameters to simulate, columns ``prior.names``.
    acquired : (n,) bool, True for rows chosen by acquisition.
    acceptance_rate : share of the prior inside the truncated region (1: the prior),
        estimated by :meth:`TruncatedPrior.sample`.
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
    region, rng = truncated_prior(current, x_o, settings), np.random.default_rng(seed)
    theta, rate = np.empty((0, prior.dim)), None
    if n > n_acquired:
        theta, rate = region.sample(n - n_acquired, rng)
    acquired = np.zeros(n, bool)
    if n_acquired:
        candidates, candidate_rate = region.sample(n_acquired * settings.acquisition_candidates,
                                                   rng)
        rate = candidate_rate if rate is None else rate
        best = np.argsort(-acquisition_scores(current, candidates, x_o), kind="stable")
        theta = np.concatenate([theta, candidates[best[:n_acquired]]])
        acquired[n - n_acquired:] = True
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
                 standardization: str = "auto", **kwargs) -> Posterior:
    """One member after a round: trained on all of its chain's simulations so far (theta
    (n, d), x (n, f), invalid rows already dropped), from ``start``'s weights, whose
    z-scoring ``standardization`` keeps or refits (``train_npe``'s
    ``refit_standardization``; per method: ``mfnpe.names.SEQUENTIAL_STANDARDIZATION``),
    or, without ``start``, from scratch with ``network``."""
    if start is not None:
        network = start.network
    return train_npe(theta, x, prior, network, training, seed=seed, init=start,
                     refit_standardization=standardization, **kwargs)


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
                                member_seed(seed, method, round_, e, "training"),
                                SEQUENTIAL_STANDARDIZATION[method])
                   for e, start in enumerate(members)]
        current = Ensemble(members)
        history.append(current)
    return history

