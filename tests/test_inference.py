"""NPE and MF-NPE on a toy task whose high-fidelity posterior is known exactly
(``toy_task``: uniform box prior on [-3, 3]^2, HF x = theta + SIGMA_HF * eps, a biased
and noisier LF simulator; the exact HF posterior is a truncated normal per parameter).

One module-scoped task pretrains on LF simulations, fine-tunes on a small HF budget and
trains NPE from scratch on the same HF data; the tests share it.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from toy_task import HIGH, LOW, PRIOR, ToyTask, standardizers

from mfnpe import names
from mfnpe.evaluation import metrics
from mfnpe.inference import (AUTO_LEARNING_RATES, ModelError, NetworkSettings, Posterior,
                             TrainingSettings, finetune, pretrain, train_npe)
from mfnpe.inference.networks import auto_refits_x
from mfnpe.inference.train import choose_learning_rate
from mfnpe.inference.transform import BoxTransform

torch.set_num_threads(1)

# nflows' LU transforms (inside sbi's NSF) call a deprecated torch function
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")

SIGMA_HF = 0.4
TOY = ToyTask(sigma_hf=SIGMA_HF)
N_LF, N_HF, N_OBS, N_DRAWS = 3000, 150, 3, 1000
SEED = 0

NETWORK = NetworkSettings(model="nsf", hidden_features=32, num_transforms=3, num_bins=8)
PRETRAINING = TrainingSettings(batch_size=200, learning_rate=2e-3, stop_after_epochs=20,
                               max_epochs=300)
FINETUNING = TrainingSettings(batch_size=20, learning_rate=5e-4, stop_after_epochs=20,
                              max_epochs=300)


# --------------------------------------------------------------------------- the toy task

simulate_hf, simulate_lf = TOY.simulate_hf, TOY.simulate_lf
exact_log_prob, exact_samples = TOY.exact_log_prob, TOY.exact_samples


def expected_exact_nltp():
    """E_{theta, x}[-log p_HF(theta | x)] = d * integral p(x_j) H[p(theta_j | x_j)] dx_j.

    p(x_j) = (Phi((x - LOW) / s) - Phi((x - HIGH) / s)) / (HIGH - LOW) is the HF marginal
    of one coordinate and H the closed-form entropy of the truncated normal."""
    def marginal(x):
        return (stats.norm.cdf((x - LOW) / SIGMA_HF)
                - stats.norm.cdf((x - HIGH) / SIGMA_HF)) / (HIGH - LOW)

    def integrand(x):
        return marginal(x) * TOY.posterior(x).entropy()

    value, error = integrate.quad(integrand, LOW - 7 * SIGMA_HF, HIGH + 7 * SIGMA_HF,
                                  points=[LOW, HIGH], limit=200)
    assert error < 1e-8
    return PRIOR.dim * value


def build_task(seed):
    """Data, the three posteriors and the test observations of one seed."""
    rng = np.random.default_rng(seed)
    theta_lf = PRIOR.sample(N_LF, rng)
    x_lf = simulate_lf(theta_lf, rng)
    theta_hf = PRIOR.sample(N_HF, rng)
    x_hf = simulate_hf(theta_hf, rng)
    theta_obs = PRIOR.sample(N_OBS, rng)
    x_obs = simulate_hf(theta_obs, rng)
    lf = pretrain(theta_lf, x_lf, PRIOR, network=NETWORK, training=PRETRAINING, seed=seed)
    mf = finetune(lf, theta_hf, x_hf, training=FINETUNING, seed=seed)
    npe = train_npe(theta_hf, x_hf, PRIOR, network=NETWORK, training=FINETUNING, seed=seed)
    return SimpleNamespace(seed=seed, theta_hf=theta_hf, x_hf=x_hf, theta_obs=theta_obs,
                           x_obs=x_obs, lf=lf, mf=mf, npe=npe)


def c2st_against_exact(task):
    """{name: (N_OBS,) C2ST accuracy of the posterior's draws vs exact draws} per observation."""
    scores = {}
    for name in ("lf", "mf", "npe"):
        draws = getattr(task, name).sample(task.x_obs, N_DRAWS, seed=task.seed)  # (S, m, d)
        rng = np.random.default_rng(1000 + task.seed)
        scores[name] = np.array([
            metrics.c2st(draws[:, i], exact_samples(x, N_DRAWS, rng), seed=task.seed)
            for i, x in enumerate(task.x_obs)])
    return scores


@pytest.fixture(scope="module")
def task():
    return build_task(SEED)


@pytest.fixture(scope="module")
def c2st_scores(task):
    return c2st_against_exact(task)


# --------------------------------------------------------------------------- a. NLTP


def test_nltp_of_the_exact_posterior_matches_its_expectation():
    """NLTP of the known (truncated Gaussian) posterior matches its closed-form value."""
    rng = np.random.default_rng(11)
    theta = PRIOR.sample(4000, rng)
    x = simulate_hf(theta, rng)
    value, low, high = metrics.nltp(exact_log_prob(theta, x))
    expected = expected_exact_nltp()
    assert low < expected < high, (value, low, high, expected)
    assert high - low < 0.1
    # the truncation matters: the untruncated Gaussian entropy d/2 log(2 pi e s^2) is off
    untruncated = 0.5 * PRIOR.dim * np.log(2 * np.pi * np.e * SIGMA_HF**2)
    assert untruncated > high + 0.1
    # and a misspecified (too wide, SD 2 s) Gaussian-in-the-box estimator scores worse
    wide = stats.truncnorm((LOW - x) / (2 * SIGMA_HF), (HIGH - x) / (2 * SIGMA_HF),
                           loc=x, scale=2 * SIGMA_HF).logpdf(theta).sum(axis=1)
    assert metrics.nltp(wide)[1] > high


def test_trained_posteriors_nltp_is_close_to_the_exact_one(task):
    """On HF test simulations MF-NPE's NLTP is near the exact posterior's; NPE on the same
    HF budget and the LF-only posterior are far worse."""
    rng = np.random.default_rng(12)
    theta = PRIOR.sample(1000, rng)
    x = simulate_hf(theta, rng)
    exact = metrics.nltp(exact_log_prob(theta, x))[0]
    mf = metrics.nltp(task.mf.log_prob(theta, x))[0]
    npe = metrics.nltp(task.npe.log_prob(theta, x))[0]
    lf = metrics.nltp(task.lf.log_prob(theta, x))[0]
    print(f"NLTP: exact {exact:.3f}, MF-NPE {mf:.3f}, NPE {npe:.3f}, LF-only {lf:.3f}")
    assert exact - 0.05 < mf < exact + 0.3
    assert npe > mf + 0.3
    assert lf > mf + 0.5


# --------------------------------------------------------------------------- b. C2ST


def test_mf_npe_is_close_to_the_exact_posterior_and_beats_npe(c2st_scores):
    lf, mf, npe = (c2st_scores[k].mean() for k in ("lf", "mf", "npe"))
    print(f"C2ST vs exact posterior: LF-only {lf:.3f}, MF-NPE {mf:.3f}, NPE (HF only) {npe:.3f}")
    assert mf <= 0.6, c2st_scores
    # NPE on the same HF budget is clearly worse
    assert npe >= mf + 0.07, c2st_scores
    # the LF-only posterior is biased: fine-tuning corrected it
    assert lf >= mf + 0.1, c2st_scores


BUDGETS = (30, 150, 600)


@pytest.fixture(scope="module")
def c2st_by_budget(task):
    """{method: (len(BUDGETS),) mean C2ST vs the exact posterior over 4 observations},
    MF-NPE (fine-tuned from the task's pretrained network) and NPE trained on nested
    prefixes of one HF pool, as the workflow's budgets are."""
    rng = np.random.default_rng(5)
    theta = PRIOR.sample(max(BUDGETS), rng)
    x = simulate_hf(theta, rng)
    x_obs = simulate_hf(PRIOR.sample(4, rng), rng)
    scores = {"mf": [], "npe": []}
    for budget in BUDGETS:
        trained = {
            "mf": finetune(task.lf, theta[:budget], x[:budget], training=FINETUNING, seed=SEED),
            "npe": train_npe(theta[:budget], x[:budget], PRIOR, network=NETWORK,
                             training=FINETUNING, seed=SEED)}
        for name, posterior in trained.items():
            draws = posterior.sample(x_obs, N_DRAWS, seed=SEED)
            exact_rng = np.random.default_rng(77)
            scores[name].append(np.mean([
                metrics.c2st(draws[:, i], exact_samples(obs, N_DRAWS, exact_rng), seed=SEED)
                for i, obs in enumerate(x_obs)]))
    return {name: np.array(values) for name, values in scores.items()}


# An end-to-end budget sweep (6 trainings, 24 C2STs): minutes of CPU, so in the workflow
# tier (tests/tiers.py).
@pytest.mark.workflow
def test_c2st_falls_as_the_hf_budget_grows(c2st_by_budget):
    """More HF simulations bring both estimators closer to the exact posterior, and MF-NPE
    stays ahead of NPE at every budget (measured at 30, 150, 600: MF-NPE 0.644, 0.553,
    0.542; NPE 0.779, 0.714, 0.563)."""
    print({name: np.round(values, 3) for name, values in c2st_by_budget.items()})
    for name, values in c2st_by_budget.items():
        assert (np.diff(values) < 0.01).all(), (name, values)  # never rises beyond noise
        assert values[0] - values[-1] > 0.05, (name, values)  # and falls overall
    assert (c2st_by_budget["mf"] <= c2st_by_budget["npe"] + 0.01).all(), c2st_by_budget
    assert c2st_by_budget["npe"][0] - c2st_by_budget["mf"][0] > 0.1, c2st_by_budget


# --------------------------------------------------------------------------- c. warm start


def _frozen_finetune(pretrained, theta, x, validation_fraction, batch_size):
    """Fine-tuning with a negligible learning rate (sbi refuses 0): the network stays the
    pretrained one, so the validation losses are the pretrained network's."""
    return finetune(pretrained, theta, x, seed=SEED, training=TrainingSettings(
        batch_size=batch_size, learning_rate=1e-12, max_epochs=1,
        validation_fraction=validation_fraction))


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_finetuning_starts_from_the_pretrained_weights(task):
    u = task.lf.transform.to_unbounded(torch.as_tensor(task.theta_hf, dtype=torch.float32))
    with torch.no_grad():
        losses = task.lf.net.loss(u, torch.as_tensor(task.x_hf, dtype=torch.float32)).numpy()
    pretrained_loss = losses.mean()

    # validating on 90% of the HF data (in one batch, so that sbi drops none): the first
    # validation loss is the pretrained mean loss -log q(u | x) to within 4 SD of a mean of
    # n_val of the N_HF losses (drawn without replacement)
    wide = _frozen_finetune(task.lf, task.theta_hf, task.x_hf, validation_fraction=0.9,
                            batch_size=N_HF)
    n_val = N_HF - int((1 - 0.9) * N_HF)
    se = losses.std(ddof=1) * np.sqrt((1 - n_val / N_HF) / n_val)
    assert abs(wide.history["validation_loss"][0] - pretrained_loss) < 4 * se
    np.testing.assert_allclose(wide.log_prob(task.theta_hf, task.x_hf),
                               task.lf.log_prob(task.theta_hf, task.x_hf), rtol=1e-5, atol=1e-5)

    # the same seed gives the same validation split: the pretrained loss on MF-NPE's and NPE's
    start = _frozen_finetune(task.lf, task.theta_hf, task.x_hf, FINETUNING.validation_fraction,
                             FINETUNING.batch_size).history["validation_loss"][0]
    first_mf = task.mf.history["validation_loss"][0]
    first_fresh = task.npe.history["validation_loss"][0]
    print(f"pretrained loss on HF {pretrained_loss:.3f} (90% split "
          f"{wide.history['validation_loss'][0]:.3f} +- {se:.3f}), on the 10% validation split "
          f"{start:.3f}; first epoch: fine-tuning {first_mf:.3f}, fresh network {first_fresh:.3f}")
    # the real fine-tuning starts there (its first epoch only improves on it), while a fresh
    # network on the same data, split and seed is far worse after its first epoch
    assert first_mf <= start + 0.05
    assert first_fresh > first_mf + 1.0
    assert first_fresh > pretrained_loss + 0.5
    # and fine-tuning did change the pretrained weights
    assert not np.allclose(task.mf.log_prob(task.theta_hf, task.x_hf),
                           task.lf.log_prob(task.theta_hf, task.x_hf), atol=0.01)


# --------------------------------------------------------------------------- d. the box


def test_finetuning_keeps_a_start_no_epoch_beats(task):
    """validate_start: the starting weights are epoch 0 of early stopping. A destructive
    fine-tuning (learning rate 0.02 on 20 simulations) of the already fine-tuned MF-NPE
    keeps its start; without validate_start sbi keeps its best epoch, which is worse."""
    rng = np.random.default_rng(7)
    theta, theta_test = PRIOR.sample(20, rng), PRIOR.sample(2000, rng)
    x, x_test = simulate_hf(theta, rng), simulate_hf(theta_test, rng)
    harsh = TrainingSettings(batch_size=10, learning_rate=0.02, validation_fraction=0.5,
                             stop_after_epochs=5, max_epochs=50)
    kept = finetune(task.mf, theta, x, training=harsh, seed=SEED)
    moved = finetune(task.mf, theta, x, seed=SEED,
                     training=TrainingSettings(**{**harsh.to_dict(), "validate_start": False}))

    def test_nltp(posterior):
        return metrics.nltp(posterior.log_prob(theta_test, x_test))[0]

    start_nltp = test_nltp(task.mf)
    print(f"start NLTP {start_nltp:.3f}; validate_start {test_nltp(kept):.3f}, without "
          f"{test_nltp(moved):.3f}; validation losses: start "
          f"{kept.history['start_validation_loss'][0]:.3f}, "
          f"epochs {moved.history['validation_loss']}")
    assert kept.history["kept_start"] == [1.0]
    assert min(kept.history["validation_loss"]) >= kept.history["start_validation_loss"][0]
    np.testing.assert_array_equal(kept.log_prob(theta_test, x_test),
                                  task.mf.log_prob(theta_test, x_test))
    assert "kept_start" not in moved.history
    assert test_nltp(moved) > start_nltp + 0.1


def test_validate_start_leaves_the_training_path_unchanged(task):
    """Scoring the start draws no random numbers: from the biased LF start, where the first
    epoch already validates better, fine-tuning with and without it is the same run."""
    without = finetune(task.lf, task.theta_hf, task.x_hf, seed=SEED,
                       training=TrainingSettings(**{**FINETUNING.to_dict(),
                                                    "validate_start": False}))
    assert task.mf.history["kept_start"] == [0.0]
    assert task.mf.history["start_validation_loss"][0] > min(task.mf.history["validation_loss"])
    np.testing.assert_array_equal(task.mf.history["validation_loss"],
                                  without.history["validation_loss"])
    np.testing.assert_array_equal(task.mf.log_prob(task.theta_hf, task.x_hf),
                                  without.log_prob(task.theta_hf, task.x_hf))


def test_no_posterior_mass_outside_the_box(task):
    # observations near, on and beyond the corners pile the posterior against the edges
    x_edge = np.array([[2.9, -2.9], [3.6, 3.6], [-4.0, 0.0]])
    for name in ("lf", "mf", "npe"):
        draws = getattr(task, name).sample(x_edge, 2000, seed=1)
        assert draws.shape == (2000, 3, 2)
        assert PRIOR.contains(draws.reshape(-1, 2)).all(), name
    draws = task.mf.sample(x_edge[1], 2000, seed=2)
    assert draws.shape == (2000, 2)
    assert PRIOR.contains(draws).all()
    assert (draws > 2.5).all(axis=1).mean() > 0.5  # the mass is against the corner (3, 3)

    theta = np.array([[3.01, 0.0], [0.0, -3.2], [-10.0, 10.0], [3.0, 3.0], [-3.0, 0.0],
                      [2.99, -2.99], [0.0, 0.0]])
    x = np.tile([[2.9, 0.0]], (len(theta), 1))
    log_q = task.mf.log_prob(theta, x)
    assert np.isneginf(log_q[:3]).all()
    assert np.isfinite(log_q[3:]).all()


def test_log_prob_in_chunks_is_one_pass_for_one_or_many_observations(task, monkeypatch):
    """log_prob runs the flow LOG_PROB_CHUNK rows at a time (memory): with chunks of 7 it
    equals one pass, for one x shared by every theta and for one x per theta."""
    from mfnpe.inference import posterior as posterior_module

    rng = np.random.default_rng(5)
    theta, x = PRIOR.sample(50, rng), PRIOR.sample(50, rng)
    one_pass = task.mf.log_prob(theta, x[0]), task.mf.log_prob(theta, x)
    passes, flow = [], task.mf.net.log_prob
    monkeypatch.setattr(posterior_module, "LOG_PROB_CHUNK", 7)
    monkeypatch.setattr(task.mf.net, "log_prob",
                        lambda u, condition: passes.append(u.shape[1]) or flow(u, condition))
    chunked = task.mf.log_prob(theta, x[0]), task.mf.log_prob(theta, x)
    assert passes == 2 * ([7] * 7 + [1])
    for whole, parts in zip(one_pass, chunked):
        np.testing.assert_allclose(parts, whole, rtol=1e-6, atol=1e-5)
    assert not np.allclose(one_pass[0], one_pass[1])  # the two cases differ


# --------------------------------------------------------------------------- e. files


def _with_settings(posterior, settings):
    return Posterior(posterior.net, posterior.prior, posterior.network, ["x1", "x2"],
                     posterior.history, settings)


SETTINGS = {"training": FINETUNING.to_dict(), "network": NETWORK.to_dict(), "n_hf": N_HF}


def test_save_load_round_trip(task, tmp_path):
    path = tmp_path / "models" / "mf.pt"
    _with_settings(task.mf, SETTINGS).save(path)
    assert path.exists() and not list(path.parent.glob(".*tmp*"))
    loaded = Posterior.load(path, expected_settings=SETTINGS)
    np.testing.assert_array_equal(loaded.log_prob(task.theta_hf, task.x_hf),
                                  task.mf.log_prob(task.theta_hf, task.x_hf))
    np.testing.assert_array_equal(loaded.sample(task.x_obs, 50, seed=3),
                                  task.mf.sample(task.x_obs, 50, seed=3))
    assert loaded.prior.names == PRIOR.names
    np.testing.assert_array_equal(loaded.prior.low, PRIOR.low)
    assert loaded.network == NETWORK
    assert loaded.feature_names == ["x1", "x2"]
    assert loaded.history == task.mf.history
    assert loaded.settings == SETTINGS

    content = torch.load(path, weights_only=True)
    assert content["kind"] == "mfnpe/posterior/1" and "state_dict" in content


def test_load_rejects_a_model_of_other_settings(task, tmp_path):
    path = tmp_path / "mf.pt"
    _with_settings(task.mf, SETTINGS).save(path)
    other = {**SETTINGS, "training": {**SETTINGS["training"], "learning_rate": 1e-3}}
    with pytest.raises(ModelError) as error:
        Posterior.load(path, expected_settings=other)
    assert str(path) in str(error.value)
    assert "training/learning_rate" in str(error.value)
    with pytest.raises(ModelError, match="n_hf"):
        Posterior.load(path, expected_settings={**SETTINGS, "n_hf": 100})


def test_load_rejects_a_truncated_or_missing_file(task, tmp_path):
    path = tmp_path / "mf.pt"
    task.mf.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as error:
        Posterior.load(truncated)
    assert str(truncated) in str(error.value)
    missing = tmp_path / "missing.pt"
    with pytest.raises(ModelError) as error:
        Posterior.load(missing)
    assert str(missing) in str(error.value)


# --------------------------------------------------------------------------- f. refit z-scoring


def test_finetune_with_refit_standardization(task):
    refit = finetune(task.lf, task.theta_hf, task.x_hf, refit_standardization=True, seed=SEED,
                     training=TrainingSettings(batch_size=20, learning_rate=5e-4,
                                               stop_after_epochs=5, max_epochs=30))
    # the x z-scoring moved from the LF data's mean (about its lf_shift) to the HF data's (about 0)
    pretrained_mean, _ = standardizers(task.lf.net)
    refit_mean, _ = standardizers(refit.net)
    np.testing.assert_allclose(pretrained_mean, TOY.lf_shift, atol=0.2)
    np.testing.assert_allclose(refit_mean, task.x_hf.mean(axis=0), atol=0.25)
    # the pretrained posterior is untouched
    np.testing.assert_array_equal(standardizers(task.lf.net)[0], pretrained_mean)

    log_q = refit.log_prob(task.theta_hf, task.x_hf)
    assert np.isfinite(log_q).all()
    draws = refit.sample(task.x_obs, 500, seed=4)
    assert np.isfinite(draws).all() and PRIOR.contains(draws.reshape(-1, 2)).all()
    assert np.isfinite(refit.history["validation_loss"]).all()


# --------------------------------------------------------------------------- g. sbi's API

TINY = NetworkSettings(model="nsf", hidden_features=8, num_transforms=1, num_bins=4)
BOX = BoxTransform(PRIOR)
PRIOR_U = BOX.unbounded_prior()  # sbi's prior on u = logit-box(theta) in R^d


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_training_logs_each_epoch_and_writes_no_tensorboard_files(tmp_path, monkeypatch, caplog):
    """The per-epoch losses reach the log through sbi's public tracker; nothing goes to
    ./sbi-logs (sbi's default tracker)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    theta = PRIOR.sample(60, rng)
    with caplog.at_level("INFO", logger="mfnpe.inference.train"):
        posterior = train_npe(theta, simulate_hf(theta, rng), PRIOR, network=TINY, seed=SEED,
                              training=TrainingSettings(batch_size=20, max_epochs=3))
    epochs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch")]
    history = posterior.history
    assert len(epochs) == len(history["validation_loss"]) == 4, epochs
    for i, line in enumerate(epochs):
        assert line.startswith(f"epoch {i:4d}  train loss {history['training_loss'][i]:9.4f}  "
                               f"validation loss {history['validation_loss'][i]:9.4f}"), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_the_start_is_scored_on_sbis_validation_split(task):
    """validate_start scores the start on the split and batches sbi validates every epoch
    on: with a negligible learning rate the first epochs score the same (one batch of 15,
    summed in another order)."""
    frozen = _frozen_finetune(task.lf, task.theta_hf, task.x_hf,
                              FINETUNING.validation_fraction, FINETUNING.batch_size)
    start = frozen.history["start_validation_loss"][0]
    np.testing.assert_allclose(frozen.history["validation_loss"], start, rtol=1e-6)


def test_sbi_internals_hook_matches_sbi():
    """mfnpe.inference.sbi_internals overrides a private sbi method: it must still exist
    with the same parameters and be the one NPE's training loop uses."""
    import inspect

    import sbi
    from sbi.inference import NPE
    from sbi.inference.trainers.base import NeuralInference

    from mfnpe.inference import sbi_internals

    name, parameters = sbi_internals.HOOK
    where = f"(sbi {sbi.__version__}): redo the hook in scripts/mfnpe/inference/sbi_internals.py"
    method = getattr(NeuralInference, name, None)
    assert method is not None, f"sbi's NeuralInference has no {name} {where}"
    assert tuple(inspect.signature(method).parameters) == parameters, \
        f"NeuralInference.{name} now takes {inspect.signature(method)} {where}"
    assert getattr(NPE, name) is method, f"NPE overrides NeuralInference.{name} {where}"
    assert name in vars(sbi_internals.StartScoredNPE)
    assert "_val_loss" in vars(NPE(prior=PRIOR_U, tracker=_silent_tracker())), \
        f"sbi's trainer no longer keeps the latest validation loss in _val_loss {where}"


def _silent_tracker():
    from mfnpe.inference.train import _LogTracker
    return _LogTracker()


def _trained_from_a_start_score(start_validation_loss):
    """A tiny StartScoredNPE trained on 60 HF simulations: (trainer, net, initial state dict)."""
    from mfnpe.inference.sbi_internals import StartScoredNPE

    rng = np.random.default_rng(4)
    theta = PRIOR.sample(60, rng)
    u = BOX.to_unbounded(torch.as_tensor(theta, dtype=torch.float32))
    x = torch.as_tensor(simulate_hf(theta, rng), dtype=torch.float32)
    initial = {}

    def build(batch_u, batch_x):
        net = TINY.builder()(batch_u, batch_x)
        initial.update({k: v.clone() for k, v in net.state_dict().items()})
        return net

    torch.manual_seed(SEED)
    trainer = StartScoredNPE(prior=PRIOR_U, density_estimator=build, tracker=_silent_tracker(),
                             show_progress_bars=False)
    trainer.start_validation_loss = start_validation_loss
    trainer.append_simulations(u, x)
    net = trainer.train(training_batch_size=20, learning_rate=1e-2, stop_after_epochs=2,
                        max_num_epochs=50)
    return trainer, net, initial


def test_sbi_internals_start_score_is_epoch_0_of_early_stopping():
    """The hook's contract with sbi's training loop: a start score no epoch can beat stops
    training after stop_after_epochs epochs with the starting weights restored; without
    one, sbi's own early stopping (the first epoch is the first best) runs."""
    import sbi

    where = (f"(sbi {sbi.__version__}): sbi's early stopping no longer takes "
             "StartScoredNPE.start_validation_loss as epoch 0's score; redo the hook in "
             "scripts/mfnpe/inference/sbi_internals.py")
    trainer, net, initial = _trained_from_a_start_score(-np.inf)
    assert trainer.summary["best_validation_loss"] == [-np.inf], where
    assert trainer.summary["epochs_trained"] == [2], where
    state = net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in initial.items()), where

    trainer, net, initial = _trained_from_a_start_score(None)
    assert trainer.summary["best_validation_loss"][-1] == min(trainer.summary["validation_loss"])
    assert trainer.summary["epochs_trained"][-1] > 2
    state = net.state_dict()
    assert not all(torch.equal(state[k], v) for k, v in initial.items())


def test_training_and_seeded_sampling_leave_torchs_global_random_state_alone():
    rng = np.random.default_rng(5)
    theta = rng.uniform(LOW, HIGH, size=(60, 2))
    x = ToyTask().simulate_hf(theta, rng)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    small = NetworkSettings(hidden_features=8, num_transforms=1, num_bins=4)
    posterior = train_npe(theta, x, PRIOR, small, TrainingSettings(max_epochs=2), seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    draws = posterior.sample(x[:3], 5, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    # and the seeds still fix everything: the same training and draws again
    again = train_npe(theta, x, PRIOR, small, TrainingSettings(max_epochs=2), seed=1)
    assert np.array_equal(again.sample(x[:3], 5, seed=7), draws)
    # unseeded draws continue the global state, as torch's own sampling does
    posterior.sample(x[:1], 5)
    assert not torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("model", names.DENSITY_ESTIMATORS)
def test_every_density_estimator_builds_and_num_bins_reaches_every_spline_flow(model):
    u, x = torch.randn(40, 2), torch.randn(40, 3)

    def size(bins):
        torch.manual_seed(0)
        net = NetworkSettings(model=model, hidden_features=8, num_transforms=2,
                              num_bins=bins).builder()(u, x)
        assert torch.isfinite(net.log_prob(u[:5, None].transpose(0, 1), x[:5]).sum())
        return sum(p.numel() for p in net.parameters())

    if model in names.SPLINE_ESTIMATORS:
        assert size(3) < size(8), f"{model}: num_bins does not reach the flow"
    else:
        assert size(3) == size(8)


def test_an_unknown_density_estimator_is_refused():
    with pytest.raises(ValueError, match=r"network: unknown model 'nfs'"):
        NetworkSettings(model="nfs")


# --------------------------------------------------------------------------- h. options


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_refit_x_only_keeps_the_pretrained_z_scoring_of_u(task):
    """refit_standardization="x" moves the x z-scoring to the HF data's mean and keeps the
    u shift of pretraining; "x_and_theta" is the former True (the same run)."""
    short = TrainingSettings(batch_size=20, learning_rate=5e-4, stop_after_epochs=3,
                             max_epochs=4)
    x_only = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED,
                      refit_standardization="x")
    both = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED,
                    refit_standardization="x_and_theta")
    legacy = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED,
                      refit_standardization=True)
    pretrained_x, pretrained_u = standardizers(task.lf.net)
    x_mean, u_shift = standardizers(x_only.net)
    np.testing.assert_allclose(x_mean, task.x_hf.mean(axis=0), atol=0.25)
    assert np.abs(x_mean - pretrained_x).max() > 0.3  # LF and HF means differ by lf_shift
    np.testing.assert_array_equal(u_shift, pretrained_u)
    assert not np.array_equal(standardizers(both.net)[1], pretrained_u)
    np.testing.assert_array_equal(both.log_prob(task.theta_hf, task.x_hf),
                                  legacy.log_prob(task.theta_hf, task.x_hf))
    with pytest.raises(ValueError, match="unknown option 'theta'"):
        finetune(task.lf, task.theta_hf, task.x_hf, short, refit_standardization="theta")


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_auto_refits_x_only_when_the_hf_features_are_off_the_lf_z_scoring(task):
    """The default "auto": on the toy task (HF x within 0.3 LF SDs of the LF mean) it keeps
    the pretrained z-scoring, exactly as "keep"; on HF features shifted by 2 and halved it
    refits x's z-scoring, exactly as "x"; the history says what it measured and did."""
    short = TrainingSettings(batch_size=20, learning_rate=5e-4, stop_after_epochs=3,
                             max_epochs=4)
    auto = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED)
    keep = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED,
                    refit_standardization="keep")
    assert auto.history["refit_x"] == [0.0]
    assert 0.1 < auto.history["x_shift"][0] < 0.5 and auto.history["x_log_scale"][0] < 0.4
    np.testing.assert_array_equal(auto.log_prob(task.theta_hf, task.x_hf),
                                  keep.log_prob(task.theta_hf, task.x_hf))

    off = 0.5 * task.x_hf - 2.0
    auto_off = finetune(task.lf, task.theta_hf, off, short, seed=SEED)
    x_off = finetune(task.lf, task.theta_hf, off, short, seed=SEED, refit_standardization="x")
    assert auto_off.history["refit_x"] == [1.0] and auto_off.history["x_shift"][0] > 1.0
    np.testing.assert_array_equal(auto_off.log_prob(task.theta_hf, off),
                                  x_off.log_prob(task.theta_hf, off))
    np.testing.assert_allclose(standardizers(auto_off.net)[0], off.mean(axis=0), atol=0.25)


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_auto_learning_rate_keeps_the_candidate_its_rule_chooses(task):
    """learning_rate="auto" fine-tunes at each candidate rate under the same seed and
    keeps the network choose_learning_rate picks from their per-simulation validation
    losses: exactly the network that fixed rate gives; its history records every
    candidate's mean loss and the rate kept. A fixed rate records none of it."""
    short = TrainingSettings(batch_size=20, learning_rate="auto", stop_after_epochs=3,
                             max_epochs=4)
    auto = finetune(task.lf, task.theta_hf, task.x_hf, short, seed=SEED)
    fixed = {rate: finetune(task.lf, task.theta_hf, task.x_hf,
                            TrainingSettings(**{**short.to_dict(), "learning_rate": rate}),
                            seed=SEED) for rate in AUTO_LEARNING_RATES}
    losses = {rate: p.history["validation_loss_per_simulation"] for rate, p in fixed.items()}
    n_val = len(losses[AUTO_LEARNING_RATES[0]])
    assert n_val == round(0.1 * len(task.theta_hf))  # the whole held-out tenth, one each
    assert len({tuple(loss) for loss in losses.values()}) == len(losses)  # they differ
    chosen = choose_learning_rate(losses)
    assert auto.history["auto_learning_rates"] == list(AUTO_LEARNING_RATES)
    assert auto.history["auto_validation_loss"] == [np.mean(losses[r]) for r in AUTO_LEARNING_RATES]
    assert auto.history["learning_rate"] == [chosen]
    for rate, posterior in fixed.items():
        same = np.array_equal(auto.log_prob(task.theta_hf, task.x_hf),
                              posterior.log_prob(task.theta_hf, task.x_hf))
        assert same == (rate == chosen), rate
        assert "learning_rate" not in posterior.history
        assert "auto_validation_loss" not in posterior.history
    with pytest.raises(ValueError, match="auto is for fine-tuning"):
        pretrain(task.theta_hf, task.x_hf, PRIOR, training=short)


def test_choose_learning_rate_leaves_the_smallest_step_only_when_clearly_better():
    first = [1.0, 1.2, 0.8, 1.1, 0.9]
    steady = [0.5, 0.7, 0.3, 0.6, 0.4]  # 0.5 lower on every simulation
    noisy = [-1.0, 3.0, -1.5, 2.5, 0.0]  # lower mean (0.6), differences swing by 4
    assert choose_learning_rate({1e-4: first, 5e-4: steady, 2e-3: noisy}) == 5e-4
    assert choose_learning_rate({1e-4: first, 5e-4: noisy}) == 1e-4
    better = [0.2, 0.4, 0.0, 0.3, 0.1]  # clearly better, and lower than steady
    assert choose_learning_rate({1e-4: first, 5e-4: steady, 2e-3: better}) == 2e-3
    assert choose_learning_rate({1e-4: first, 5e-4: first}) == 1e-4  # a tie keeps the first
    assert choose_learning_rate({1e-4: [1.0], 5e-4: [0.5]}) == 1e-4  # one simulation: no SE
    with pytest.raises(ValueError, match="the same held-out simulations"):
        choose_learning_rate({1e-4: first, 5e-4: [0.5]})
    nan_first = [float("nan"), *first[1:]]
    assert choose_learning_rate({1e-4: nan_first, 5e-4: noisy, 2e-3: steady}) == 2e-3
    assert choose_learning_rate({1e-4: first, 5e-4: [*steady[:4], float("inf")]}) == 1e-4
    with pytest.raises(ValueError, match="no candidate has a finite validation loss"):
        choose_learning_rate({1e-4: [float("nan")], 5e-4: [float("inf")]})


@pytest.mark.parametrize("rate", ["fast", 0.0, -1e-4, True, None])
def test_a_learning_rate_is_a_positive_number_or_auto(rate):
    with pytest.raises(ValueError, match="learning_rate must be a number > 0 or 'auto'"):
        TrainingSettings(learning_rate=rate)
    assert TrainingSettings.from_dict({"learning_rate": "auto"}).learning_rate == "auto"


def test_auto_rule_needs_a_large_and_clear_mismatch():
    """0.5 LF SDs in mean or 1.5x in SD, and 3 standard errors at the batch size."""
    assert not auto_refits_x(0.45, 0.0, 10_000) and auto_refits_x(0.55, 0.0, 10_000)
    assert not auto_refits_x(0.0, np.log(1.45), 10_000) and auto_refits_x(0.0, np.log(1.6), 10_000)
    assert not auto_refits_x(0.9, 0.0, 10) and auto_refits_x(0.9, 0.0, 50)  # 3/√10 = 0.95
    assert not auto_refits_x(float("nan"), float("nan"), 100)


@pytest.mark.filterwarnings("ignore:Maximum number of epochs")
def test_device_cpu_gives_the_default_weights(task):
    """TrainingSettings(device="cpu") trains exactly as the default (the workflow's
    results do not move); the network and draws live on the CPU."""
    rng = np.random.default_rng(8)
    theta = PRIOR.sample(60, rng)
    x = simulate_hf(theta, rng)
    default = train_npe(theta, x, PRIOR, TINY, TrainingSettings(batch_size=20, max_epochs=3),
                        seed=SEED)
    on_cpu = train_npe(theta, x, PRIOR, TINY, TrainingSettings(batch_size=20, max_epochs=3,
                                                               device="cpu"), seed=SEED)
    for key, value in default.net.state_dict().items():
        assert torch.equal(value, on_cpu.net.state_dict()[key]), key
    assert on_cpu.device.type == "cpu"
    tuned = [finetune(task.lf, theta, x, TrainingSettings(batch_size=20, max_epochs=2,
                                                          **device), seed=SEED)
             for device in ({}, {"device": "cpu"})]
    np.testing.assert_array_equal(tuned[0].sample(x[:2], 10, seed=1),
                                  tuned[1].sample(x[:2], 10, seed=1))
    assert TrainingSettings.from_dict({"device": "cuda"}).device == "cuda"
