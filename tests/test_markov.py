"""Physics and determinism tests of the exact (``markov``) and ``binomial`` HF simulators.

Statistical tests use fixed seeds and tolerances of a few standard errors derived from
the sampling distribution under the null hypothesis (stationary multinomial channels).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hh_reference import reference_rest, reference_spike_times
from mfnpe.hh import markov, membrane
from mfnpe.hh.kinetics import (
    K_OPEN,
    K_TRANSITIONS,
    NA_OPEN,
    NA_TRANSITIONS,
    channel_counts,
    k_state_probs,
    na_state_probs,
    rate_vector,
)
from mfnpe.hh.model import constants_table
from mfnpe.hh.models import MODELS
from mfnpe.stimulus.step import Stimulus
from mfnpe.simulation.features import spike_times
from scipy.linalg import expm

CLASSIC_TABLES = markov.tables(MODELS["classic"])
CLASSIC_RATES = markov.compiled_rates(MODELS["classic"])

DT = 0.01  # ms
METHODS = {"markov": markov.simulate_markov, "binomial": markov.simulate_binomial}
N_SE = 4.0
"""Tolerance of the statistical tests, in standard errors."""


def _constants(n: int, **fixed: float) -> dict[str, np.ndarray]:
    return constants_table(fixed, np.zeros((n, 0)), ())


def _seeds(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.uint32)


def _open_probability(v: float) -> tuple[float, float]:
    """Stationary open probabilities (Na m3h1 = m^3 h, K n4 = n^4) at ``v`` [mV]."""
    return na_state_probs(v)[NA_OPEN], k_state_probs(v)[K_OPEN]


def _check_binomial_fraction(samples: np.ndarray, p: float, n_channels: int, label: str):
    """Mean and variance of open fractions ``samples`` (M,) match Binomial(N, p) / N."""
    m = samples.shape[0]
    var = p * (1.0 - p) / n_channels
    se_mean = np.sqrt(var / m)
    excess_kurtosis = (1.0 - 6.0 * p * (1.0 - p)) / (n_channels * p * (1.0 - p))
    se_var = var * np.sqrt(2.0 / (m - 1) + excess_kurtosis / m)  # SE of a sample variance
    mean_hat, var_hat = samples.mean(), samples.var(ddof=1)
    assert abs(mean_hat - p) < N_SE * se_mean, f"{label}: mean {mean_hat:.3e} vs {p:.3e}"
    assert abs(var_hat - var) < N_SE * se_var, f"{label}: variance {var_hat:.3e} vs {var:.3e}"


# ---------------------------------------------------------------------------------------
# Stationary statistics


def test_compiled_stationary_probs_match_kinetics():
    rates, probs = np.empty(6), np.empty(13)
    for v in (-90.0, -65.0, -40.0, -55.0, 0.0, 30.0):
        markov._model_rates(CLASSIC_RATES, v, np.empty(0), np.ones(3), rates)
        np.testing.assert_allclose(rates, rate_vector(v), rtol=1e-12)
        markov._stationary_probs(rates, probs, np.empty(3), CLASSIC_TABLES)
        np.testing.assert_allclose(probs[:8], na_state_probs(v), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(probs[8:], k_state_probs(v), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("clamp_mV", [-65.0, -20.0])
def test_voltage_clamp_open_fractions_are_stationary_binomial(method, clamp_mV):
    """After 25 ms at the clamp the open fractions are Binomial(N, p)/N across simulations.

    Channels start in the stationary distribution at the clamp, and 25 ms (3 slowest time
    constants at -65 mV) tests that the dynamics keep it so. Simulations are independent,
    so one sample each at the final time. (SE of the Na mean at -65 mV: 11% of p; the
    exactness of ``binomial`` is tested to 1% below.)
    """
    area, n_sims = 40.0, 400  # N = 2400 Na, 720 K channels
    out = METHODS[method](
        _constants(n_sims, area=area), Stimulus(25.0, 0.0, 25.0), DT, _seeds(n_sims, 1000),
        clamp_mV=clamp_mV, record_open=True,
    )
    assert np.all(out.v == np.float32(clamp_mV))
    n_na, n_k = channel_counts(120.0, 36.0, area)
    p_na, p_k = _open_probability(clamp_mV)
    _check_binomial_fraction(out.open_na[:, -1].astype(float), p_na, int(n_na), f"{method} Na")
    _check_binomial_fraction(out.open_k[:, -1].astype(float), p_k, int(n_k), f"{method} K")


@pytest.mark.parametrize("v0", [-65.0, -30.0])
def test_initial_states_are_multinomial(v0):
    """At t = 0 the open fractions are Binomial(N, p(V))/N at the clamp, not rounded."""
    n_sims, area = 4000, 100.0
    out = markov.simulate_markov(
        _constants(n_sims, area=area), Stimulus(2 * DT, 0.0, 2 * DT), DT, _seeds(n_sims),
        clamp_mV=v0, record_open=True,
    )
    n_na, n_k = channel_counts(120.0, 36.0, area)
    p_na, p_k = _open_probability(v0)
    assert out.open_na[:, 0].var() > 0 and out.open_k[:, 0].var() > 0
    _check_binomial_fraction(out.open_na[:, 0].astype(float), p_na, int(n_na), "Na at t=0")
    _check_binomial_fraction(out.open_k[:, 0].astype(float), p_k, int(n_k), "K at t=0")


def _stationary_event_rate(v: float, n_na: int, n_k: int) -> float:
    """Expected transitions per ms of N channels at stationarity: sum_s N p_s R_s [1/ms]."""
    rates = rate_vector(v)
    total = 0.0
    for table, probs, n in ((NA_TRANSITIONS, na_state_probs(v), n_na),
                            (K_TRANSITIONS, k_state_probs(v), n_k)):
        for source, _, rate_id, multiplier in table:
            total += n * probs[source] * multiplier * rates[rate_id]
    return total


@pytest.mark.parametrize("clamp_mV", [-65.0, -20.0])
def test_event_count_matches_stationary_propensity(clamp_mV):
    """Clamped (stationary throughout), events = duration x sum_s N p_s R_s (2 %)."""
    n_sims, area, duration = 20, 100.0, 5.0
    out = markov.simulate_markov(
        _constants(n_sims, area=area), Stimulus(duration, 0.0, duration), DT,
        _seeds(n_sims, 77), clamp_mV=clamp_mV,
    )
    n_na, n_k = channel_counts(120.0, 36.0, area)
    simulated_ms = (out.v.shape[1] - 1) * DT  # the last sample ends the last step
    expected = simulated_ms * _stationary_event_rate(clamp_mV, int(n_na), int(n_k))
    assert np.all(out.n_events > 0)
    assert out.n_events.mean() == pytest.approx(expected, rel=0.02)


# ---------------------------------------------------------------------------------------
# The binomial step: exact transition probabilities at a held voltage


def _generator(table: np.ndarray, v: float) -> np.ndarray:
    """Rate matrix Q [1/ms] of a scheme (rows: from, columns: to; rows sum to 0) at ``v``."""
    rates = rate_vector(v)
    size = int(table[:, :2].max()) + 1
    q = np.zeros((size, size))
    for source, target, rate_id, multiplier in table:
        q[source, target] += multiplier * rates[rate_id]
    return q - np.diag(q.sum(axis=1))


@pytest.mark.parametrize("v", [-90.0, -65.0, -40.0, 0.0, 40.0])
@pytest.mark.parametrize("dt", [0.01, 0.5])
def test_binomial_transition_probs_are_the_matrix_exponential(v, dt):
    """The closed-form step probabilities equal scipy's expm(Q dt) of the 28-edge schemes."""
    rates, probs = np.empty(6), np.zeros((13, 8))
    markov._model_rates(CLASSIC_RATES, v, np.empty(0), np.ones(3), rates)
    markov._transition_probs(rates, dt, np.zeros((4, 5, 5)), probs, CLASSIC_TABLES)
    np.testing.assert_allclose(probs[:8], expm(_generator(NA_TRANSITIONS, v) * dt), atol=1e-13)
    np.testing.assert_allclose(probs[8:, :5], expm(_generator(K_TRANSITIONS, v) * dt),
                               atol=1e-13)


@pytest.mark.parametrize("clamp_mV", [-65.0, -20.0])
def test_binomial_open_fraction_mean_is_exact_at_held_voltage(clamp_mV):
    """Clamped, the mean open fractions stay the stationary m∞³h∞, n∞⁴ within 1%.

    10⁶ µm² (6·10⁷ Na channels), 10 simulations, 10–30 ms; SE from the spread of the
    per-simulation means (independent), and required below 0.25% so 1% is ≥ 4 SE. The
    one-move-per-step scheme it replaced was 5.5% high for Na at -65 mV.
    """
    n_sims = 10
    out = markov.simulate_binomial(
        _constants(n_sims, area=1e6), Stimulus(30.0, 0.0, 30.0), DT, _seeds(n_sims, 40),
        clamp_mV=clamp_mV, record_open=True,
    )
    for label, trace, p in zip(("Na", "K"), (out.open_na, out.open_k),
                               _open_probability(clamp_mV)):
        means = trace[:, int(10.0 / DT):].astype(np.float64).mean(axis=1) / p
        se = means.std(ddof=1) / np.sqrt(n_sims)
        print(f"{label} at {clamp_mV} mV: mean / p = {means.mean():.5f} ± {se:.5f}")
        assert se < 0.0025
        assert abs(means.mean() - 1.0) < 0.01, label


# ---------------------------------------------------------------------------------------
# The voltage step: one exponential-Euler update, shared with the JAX models


def test_kernels_step_v_by_the_exact_frozen_conductance_solution():
    """The kernels' compiled step is the exact solution of C dV/dt = I − Σ g (V − E) with
    the conductances frozen, V_inf + (V − V_inf) e^(−dt g_tot / C), and the same numpy
    update as the JAX models use; at g_tot → 0 it tends to forward Euler."""
    exp_euler_np = membrane.make_exp_euler(np)
    rng = np.random.default_rng(3)
    n = 200
    g_na, g_k, g_l = rng.uniform(0, 200, n), rng.uniform(0, 100, n), rng.uniform(0, 1, n)
    g_na[:5] = g_k[:5] = 0.0
    g_l[:5] = 10.0 ** -np.arange(5, 10)  # nearly no conductance
    e_l, cap = rng.uniform(-70, -50, n), rng.uniform(0.5, 2.0, n)
    v, current = rng.uniform(-100, 50, n), rng.uniform(-20, 20, n)
    for dt in (0.01, 0.025):
        args = (v, g_na, g_k, g_l, 50.0, -77.0, e_l, current, cap, dt)
        compiled = np.array([markov._voltage_step(*(a[i] if np.ndim(a) else a for a in args))
                             for i in range(n)])
        np.testing.assert_allclose(compiled, exp_euler_np(*args), rtol=1e-13, atol=1e-12)
        # the kernels' any-channel step gives the two-channel step bit for bit
        generic = np.array([markov._voltage_step_channels(
            v[i], np.array([g_na[i], g_k[i]]), np.array([50.0, -77.0]), g_l[i], e_l[i],
            current[i], cap[i], dt) for i in range(n)])
        np.testing.assert_array_equal(generic, compiled)
        g_tot = g_na + g_k + g_l
        v_inf = (current + g_na * 50.0 - g_k * 77.0 + g_l * e_l) / g_tot
        exact = v_inf + (v - v_inf) * np.exp(-dt * g_tot / cap)
        np.testing.assert_allclose(compiled[5:], exact[5:], rtol=1e-9, atol=1e-9)
        i_net = current[:5] - g_l[:5] * (v[:5] - e_l[:5])
        np.testing.assert_allclose(compiled[:5] - v[:5], dt / cap[:5] * i_net, rtol=1e-6)
    zero = markov._voltage_step(-65.0, 0.0, 0.0, 0.0, 50.0, -77.0, -54.4, 10.0, 2.0, 0.01)
    assert zero == pytest.approx(-65.0 + 0.05, abs=1e-12)  # g_tot = 0 exactly


# ---------------------------------------------------------------------------------------
# Large-area limit: the deterministic HH model

SPIKE_PROTOCOL = Stimulus(40.0, 5.0, 30.0)  # two reference spikes (7.1, 22.1 ms), none marginal


def _reference_spikes() -> np.ndarray:
    return reference_spike_times(SPIKE_PROTOCOL, DT)


def _spike_errors(v: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per simulation: spike count, and the mean over reference spikes of the distance [ms]
    to the nearest simulated spike."""
    counts, errors = [], []
    for row in v:
        spikes = spike_times(row, DT)
        counts.append(len(spikes))
        errors.append(
            np.mean([np.abs(spikes - t).min() for t in reference]) if len(spikes) else np.inf
        )
    return np.array(counts), np.array(errors)


def test_markov_spike_times_approach_deterministic_at_large_area():
    """Mean spike-time error < 0.35 ms at 3000 µm² (dt bias ~0.1 ms + channel noise) and
    under half the error at 100 µm²; same spike count as the reference at 3000 µm²."""
    reference = _reference_spikes()
    assert len(reference) == 2
    _, small_err = _spike_errors(
        markov.simulate_markov(_constants(20, area=100.0), SPIKE_PROTOCOL, DT, _seeds(20)).v,
        reference,
    )
    counts, large_err = _spike_errors(
        markov.simulate_markov(_constants(4, area=3000.0), SPIKE_PROTOCOL, DT, _seeds(4)).v,
        reference,
    )
    assert np.all(counts == len(reference))
    assert large_err.mean() < 0.35
    assert large_err.mean() < 0.5 * small_err.mean()


def test_binomial_spike_times_approach_deterministic_at_large_area():
    """Mean error < 0.25 ms at 10⁴ µm² (channel noise), on the two-spike protocol."""
    reference = _reference_spikes()
    counts, errors = _spike_errors(
        markov.simulate_binomial(_constants(12, area=1e4), SPIKE_PROTOCOL, DT, _seeds(12)).v,
        reference,
    )
    assert np.all(counts == len(reference)) and errors.mean() < 0.25


def test_binomial_noise_free_limit_is_the_deterministic_model():
    """At 10⁹ µm² (6·10¹⁰ Na channels) all 7 spikes of the 120 ms step within 0.1 ms of the
    reference ODE at dt 0.01 (measured max 0.01 ms: the hybrid scheme's own dt error). The
    one-move-per-step scheme it replaced had the 7th spike 1.05 ms early."""
    reference = reference_spike_times(Stimulus(), DT)
    limit = markov.simulate_binomial(_constants(1, area=1e9), Stimulus(), DT, _seeds(1))
    spikes = spike_times(limit.v[0], DT)
    print("noise-free binomial spike errors [ms]:", np.round(spikes - reference, 3))
    assert len(reference) == 7 and spikes.shape == reference.shape
    np.testing.assert_allclose(spikes, reference, atol=0.1)


def test_rest_is_stable_without_input_at_huge_area():
    """Without input V starts at the resting potential and stays there (10⁶ µm²)."""
    out = markov.simulate_binomial(
        _constants(2, area=1e6, amplitude=0.0), Stimulus(30.0, 5.0, 25.0), DT, _seeds(2)
    )
    rest = reference_rest()
    assert np.all(np.abs(out.v[:, 0] - rest) < 1e-5)
    assert np.all(np.abs(out.v - rest) < 0.1)
    assert abs(out.v.mean() - rest) < 0.01


def test_no_channels_gives_linear_charging():
    """With gNa = gK = gL = 0, V starts at EL (no resting potential) and rises by I t / C
    (the g_tot -> 0 limit of exponential Euler)."""
    stimulus = Stimulus(5.0, 0.0, 5.0)
    for simulate in METHODS.values():
        out = simulate(_constants(1, gNa=0.0, gK=0.0, gL=0.0, C=2.0), stimulus, DT, _seeds(1))
        expected = -54.4 + 10.0 * np.arange(out.v.shape[1]) * DT / 2.0
        np.testing.assert_allclose(out.v[0], expected, atol=1e-3)


# ---------------------------------------------------------------------------------------
# Output conventions, divergence and determinism


@pytest.mark.parametrize("method", METHODS)
def test_output_conventions(method):
    stimulus = Stimulus(3.0, 1.0, 2.0)
    constants = _constants(2, gL=0.5)
    out = METHODS[method](constants, stimulus, DT, _seeds(2))
    assert out.v.shape == (2, 300) and out.v.dtype == np.float32 and out.dt == DT
    assert np.all(out.v[:, 0] == np.float32(reference_rest(gL=0.5))) and np.all(np.isfinite(out.v))
    assert out.open_na is None and out.open_k is None
    if method == "markov":
        assert out.n_events.shape == (2,) and out.n_events.dtype == np.int64
    else:
        assert out.n_events is None
    recorded = METHODS[method](constants, stimulus, DT, _seeds(2), record_open=True)
    np.testing.assert_array_equal(recorded.v, out.v)
    for trace in (recorded.open_na, recorded.open_k):
        assert trace.shape == (2, 300) and trace.dtype == np.float32
        assert np.all((trace >= 0) & (trace <= 1))


@pytest.mark.parametrize("method", METHODS)
def test_divergence_fills_nan_and_terminates(method):
    simulate = METHODS[method]
    stimulus = Stimulus(10.0, 5.0, 10.0)
    # dt / C * amplitude overflows: V = inf right after the step's onset
    blown = simulate(_constants(1, amplitude=1e308, C=1e-3), stimulus, DT, _seeds(1),
                     record_open=True)
    onset = int(round(5.0 / DT))
    assert np.all(np.isfinite(blown.v[0, : onset + 1]))  # the step acts from sample onset + 1
    assert np.all(np.isnan(blown.v[0, onset + 1 :]))
    assert np.all(np.isnan(blown.open_na[0, onset + 1 :]))
    # rates that would take forever to simulate (V far below any reversal potential)
    clamped = simulate(_constants(1), stimulus, DT, _seeds(1), clamp_mV=-400.0)
    assert np.all(np.isnan(clamped.v[0]))  # the start (stationary at the clamp) already fails
    start_nan = simulate(_constants(1, EL=np.nan), stimulus, DT, _seeds(1))  # no rest
    assert np.all(np.isnan(start_nan.v))


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_output_independent_of_batch(method):
    simulate = METHODS[method]
    stimulus = Stimulus(20.0, 2.0, 18.0)
    table = constants_table({}, np.array([[100.0, 30.0], [120.0, 36.0], [150.0, 45.0]]),
                            ("gNa", "gK"))
    seeds = np.array([11, 12, 13], dtype=np.uint32)
    first, second = (simulate(table, stimulus, DT, seeds) for _ in range(2))
    np.testing.assert_array_equal(first.v, second.v)
    alone = simulate({k: v[1:2] for k, v in table.items()}, stimulus, DT, seeds[1:2])
    np.testing.assert_array_equal(alone.v[0], first.v[1])
    reordered = simulate({k: v[::-1] for k, v in table.items()}, stimulus, DT, seeds[::-1])
    np.testing.assert_array_equal(reordered.v[::-1], first.v)
    if method == "markov":
        np.testing.assert_array_equal(reordered.n_events[::-1], first.n_events)
    assert not np.array_equal(first.v[0], simulate(table, stimulus, DT, seeds + 1).v[0])


def test_concurrent_batches_match_sequential_runs():
    """Two batches in two Python threads at once give the sequential results (thread-local RNG)."""
    assert markov._simulate_batch.targetoptions["nogil"]  # the kernel releases the GIL
    stimulus = Stimulus(60.0, 10.0, 50.0)
    batches = [
        (_constants(4, area=100.0), _seeds(4, 500)),
        (_constants(4, area=60.0), _seeds(4, 900)),
    ]
    sequential = [markov.simulate_markov(c, stimulus, DT, s) for c, s in batches]
    barrier = threading.Barrier(2)

    def run(batch):
        barrier.wait()  # start both kernels together
        return markov.simulate_markov(batch[0], stimulus, DT, batch[1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(run, batches))
    for seq, con in zip(sequential, concurrent):
        np.testing.assert_array_equal(seq.v, con.v)
        np.testing.assert_array_equal(seq.n_events, con.n_events)


def test_the_compile_command_runs_every_shipped_model_and_the_features():
    """``python -m mfnpe.simulation.compile`` (``make install``): each numba simulator on
    every shipped model, then the features, so that their kernels are in numba's cache."""
    from mfnpe.names import MARKOV_SIMULATORS
    from mfnpe.simulation import compile as compile_step

    seconds = compile_step.compile_kernels()
    assert set(seconds) == {f"{model} {simulator}" for model in MODELS
                            for simulator in MARKOV_SIMULATORS} | {"features"}
    assert markov._simulate_batch.signatures  # the kernel is compiled (or read) here
