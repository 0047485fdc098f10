"""The toy task of the inference tests: its high-fidelity posterior is known exactly.

theta ~ uniform on the box [LOW, HIGH]^2.
HF simulator: x = theta + sigma_hf * eps.
LF simulator: x = lf_scale * theta + lf_shift + sigma_lf * eps (biased, noisier).
The exact HF posterior is, per parameter, N(x_j, sigma_hf^2) truncated to the box.
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
