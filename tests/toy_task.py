"""The toy task of the inference tests: its high-fidelity posterior is known exactly.

theta ~ uniform on the box [LOW, HIGH]^2.
HF simulator: x = theta + sigma_hf * eps.
LF simulator: x = lf_scale * theta + lf_shift + sigma_lf * eps (biased, noisier).
The exact HF posterior is, per parameter, N(x_j, sigma_hf^2) truncated to the box.

:func:`standardizers` reads a trained network's z-scoring (the inference and sequential
tests check which data it was fitted to).
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

from mfnpe.inference import BoxPrior

LOW, HIGH = -3.0, 3.0
PRIOR = BoxPrior(("t1", "t2"), [LOW, LOW], [HIGH, HIGH])


@dataclass(frozen=True)
class ToyTask:
    sigma_hf: float = 0.4
    sigma_lf: float = 0.5
    lf_scale: float = 1.1
    lf_shift: float = 0.6

    def simulate_hf(self, theta, rng):
        return theta + self.sigma_hf * rng.normal(size=theta.shape)

    def simulate_lf(self, theta, rng):
        return self.lf_scale * theta + self.lf_shift + self.sigma_lf * rng.normal(size=theta.shape)

    def posterior(self, x):
        """The exact HF posterior of each parameter given x (..., d): frozen truncated normals."""
        x = np.asarray(x, dtype=float)
        s = self.sigma_hf
        return stats.truncnorm((LOW - x) / s, (HIGH - x) / s, loc=x, scale=s)

    def exact_log_prob(self, theta, x):
        """(m,) log p_HF(theta_i | x_i) for theta, x (m, d)."""
        return self.posterior(x).logpdf(theta).sum(axis=1)

    def exact_samples(self, x, n, rng):
        """(n, d) draws from p_HF(theta | x) for one x (d,)."""
        return self.posterior(np.broadcast_to(x, (n, len(x)))).rvs(random_state=rng)


def standardizers(net) -> tuple[np.ndarray, np.ndarray]:
    """(x mean, θ shift) of a trained sbi flow's two z-scorings: the embedding's
    ``Standardize`` of x and the flow's ``PointwiseAffineTransform`` of θ, one each."""
    from sbi.utils.sbiutils import Standardize

    x_mean = [m._mean.clone() for m in net.modules() if isinstance(m, Standardize)]
    u_shift = [m._shift.clone() for m in net.modules()
               if type(m).__name__ == "PointwiseAffineTransform"]
    assert len(x_mean) == 1 and len(u_shift) == 1
    return x_mean[0].numpy(), u_shift[0].numpy()
