"""Neural posterior estimation on plain arrays and a prior with a known support (box,
log-uniform, truncated normal, a torch distribution): NPE and MF-NPE.

    from mfnpe.inference import BoxPrior, pretrain, finetune, train_npe, Posterior

    prior = BoxPrior(("a", "b"), low=[0, 0], high=[1, 1])
    lf = pretrain(theta_lf, x_lf, prior)            # many cheap simulations
    mf = finetune(lf, theta_hf, x_hf)               # few expensive ones
    mf.sample(x_obs, 1000); mf.log_prob(theta, x); mf.save("mf.pt"); Posterior.load("mf.pt")
"""

from mfnpe.inference.networks import EMBEDDINGS, STANDARDIZATIONS, NetworkSettings
from mfnpe.inference.posterior import ModelError, Posterior
from mfnpe.inference.priors import TorchPrior
from mfnpe.inference.train import (AUTO_LEARNING_RATES, TrainingSettings, finetune, pretrain,
                                   train_npe)
from mfnpe.prior import BoxPrior, TruncatedNormalPrior

__all__ = ["AUTO_LEARNING_RATES", "BoxPrior", "EMBEDDINGS", "ModelError", "NetworkSettings", "Posterior",
           "STANDARDIZATIONS", "TorchPrior", "TrainingSettings", "TruncatedNormalPrior",
           "finetune", "pretrain", "train_npe"]
