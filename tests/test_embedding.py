"""Embedding nets (``NetworkSettings.embedding``) on raw traces: 100-sample series go in.

HF: x(t_k) = theta_1 sin(w t_k) + theta_2 cos(w t_k) + SIGMA eps_k, k = 0..99 over five
full periods, theta uniform on [-3, 3]^2. sin and cos are orthogonal there with squared
norm 50, so the exact posterior is, per parameter, N(<x, phi_j> / 50, SIGMA^2 / 50)
truncated to the box. LF: the amplitudes 25% low, an offset, more noise.
"""

import numpy as np
import pytest
import torch
from scipy import stats

from mfnpe.evaluation import metrics
from mfnpe.inference import (BoxPrior, NetworkSettings, Posterior, TrainingSettings, finetune,
                             pretrain)

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated",
                                        "ignore:Maximum number of epochs")

T = np.arange(100)
W = 2 * np.pi * 5 / 100
PHI = np.stack([np.sin(W * T), np.cos(W * T)])  # (2, 100), PHI @ PHI.T = 50 I
SIGMA = 2.0
PRIOR = BoxPrior(("a", "b"), [-3.0, -3.0], [3.0, 3.0])
FC = NetworkSettings(hidden_features=32, num_transforms=2, num_bins=8, embedding="fc",
                     embedding_options={"output_dim": 8, "num_layers": 2, "num_hiddens": 32})


def simulate_hf(theta, rng):
    return theta @ PHI + SIGMA * rng.normal(size=(len(theta), len(T)))


def simulate_lf(theta, rng):
    return 0.75 * theta @ PHI + 0.5 + 2.5 * rng.normal(size=(len(theta), len(T)))


def exact_posterior(x):
    """Frozen truncated normals of theta given traces x (..., 100)."""
    mean = x @ PHI.T / 50.0
    sd = SIGMA / np.sqrt(50.0)
    return stats.truncnorm((-3.0 - mean) / sd, (3.0 - mean) / sd, loc=mean, scale=sd)


def _embedding_state(posterior):
    return {k: v.clone() for k, v in posterior.net.state_dict().items() if "embedding" in k
            and "_mean" not in k and "_std" not in k}


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    theta_lf = PRIOR.sample(3000, rng)
    theta_hf = PRIOR.sample(200, rng)
    lf = pretrain(theta_lf, simulate_lf(theta_lf, rng), PRIOR, FC, TrainingSettings(
        batch_size=100, learning_rate=1e-3, stop_after_epochs=10, max_epochs=150), seed=0)
    mf = finetune(lf, theta_hf, simulate_hf(theta_hf, rng), TrainingSettings(
        batch_size=20, learning_rate=5e-4, stop_after_epochs=15, max_epochs=150), seed=0)
    return lf, mf


def test_the_fc_embedding_is_pretrained_and_finetuned_with_the_flow(trained):
    lf, mf = trained
    embedded = _embedding_state(lf)
    assert any(k.endswith("weight") for k in embedded) and len(embedded) >= 4, list(embedded)
    first = next(k for k in embedded if k.endswith("weight"))
    assert embedded[first].shape[-1] == len(T)  # the raw 100-sample trace goes in
    tuned = _embedding_state(mf)
    assert all(not torch.equal(embedded[k], tuned[k]) for k in embedded if k.endswith("weight"))
    assert mf.history["kept_start"] == [0.0]


def test_mf_npe_on_raw_traces_matches_the_exact_posterior(trained):
    """C2ST of MF-NPE (FC embedding) against exact draws <= 0.65 on average over three
    observations; the LF-only posterior (wrong waveform) is worse."""
    lf, mf = trained
    rng = np.random.default_rng(1)
    theta_o = np.array([[1.0, -0.5], [-2.0, 2.5], [0.2, 0.0]])
    x_o = simulate_hf(theta_o, rng)
    scores = {}
    for name, posterior in (("lf", lf), ("mf", mf)):
        draws = posterior.sample(x_o, 500, seed=2)
        scores[name] = [metrics.c2st(draws[:, i], exact_posterior(
            np.broadcast_to(x, (500, len(T)))).rvs(random_state=rng), seed=0)
            for i, x in enumerate(x_o)]
    print("C2ST vs exact, raw traces:", {k: np.round(v, 3) for k, v in scores.items()})
    assert np.mean(scores["mf"]) <= 0.65, scores
    assert np.mean(scores["lf"]) >= np.mean(scores["mf"]) + 0.05, scores


def test_an_embedding_model_saves_and_loads(trained, tmp_path):
    _, mf = trained
    mf.save(tmp_path / "mf.pt")
    loaded = Posterior.load(tmp_path / "mf.pt")
    assert loaded.network == FC
    x = simulate_hf(PRIOR.sample(4, np.random.default_rng(3)), np.random.default_rng(4))
    theta = PRIOR.sample(4, np.random.default_rng(5))
    np.testing.assert_array_equal(loaded.log_prob(theta, x), mf.log_prob(theta, x))


@pytest.mark.parametrize("name, options", [
    ("cnn", {"out_channels_per_layer": [4, 4], "num_linear_units": 16, "output_dim": 6}),
    ("causal_cnn", {"out_channels_per_layer": [4, 4], "num_conv_layers": 2, "output_dim": 6,
                    "pool_kernel_size": 10}),
])
def test_convolutional_embeddings_build_and_train(name, options):
    """CNN embeddings over the 100-sample series: the built and the trained networks hold
    their 1-d convolutions, and the draws stay in the box."""
    rng = np.random.default_rng(6)
    theta = PRIOR.sample(200, rng)
    network = NetworkSettings(hidden_features=16, num_transforms=1, num_bins=4, embedding=name,
                              embedding_options=options)
    untrained = network.builder()(torch.zeros(10, 2), torch.randn(10, len(T)))
    convs = [m for m in untrained.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) >= 2
    posterior = pretrain(theta, simulate_hf(theta, rng), PRIOR, network,
                         TrainingSettings(batch_size=50, max_epochs=2), seed=0)
    trained_convs = [m for m in posterior.net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(trained_convs) == len(convs)
    draws = posterior.sample(simulate_hf(theta[:2], rng), 100, seed=0)
    assert PRIOR.contains(draws.reshape(-1, 2)).all()


def test_unknown_embedding_and_stray_options_are_refused():
    with pytest.raises(ValueError, match="unknown embedding 'rnn'"):
        NetworkSettings(embedding="rnn")
    with pytest.raises(ValueError, match="embedding_options need an embedding"):
        NetworkSettings(embedding_options={"output_dim": 3})
    # without an embedding the settings read as before (no new keys in the model file)
    assert "embedding" not in NetworkSettings().to_dict()
    assert NetworkSettings.from_dict(FC.to_dict()) == FC
