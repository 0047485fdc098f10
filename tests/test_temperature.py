"""The neuron models' ``temperature`` constant: every rate of a channel's gates times
``Q10^((T − T_ref)/10)`` (classic: T_ref 6.3 °C, Q10 3, NEURON's hh.mod; Pospischil:
T_ref 36 °C, Q10 3 for Na and Kd, 2.3 for M, ModelDB 123623's HH_traub.mod and
IM_cortex.mod), in every simulator, bit-identical at the default.

The references here scale the rates themselves (the paper's equations of
``tests/hh_reference.py`` for the Pospischil models, ``tests/hh_reference.py``'s rates for
the classic one) and are solved by ``solve_ivp`` (LSODA, rtol 1e-10, atol 1e-12) through
``hh_reference.step_spike_times``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hh_reference import (PAPER, SIMULATORS, paper_inf, paper_rates, peak_times,
                          step_spike_times)
from mfnpe.hh import langevin, markov
from mfnpe.hh.gates import gate_rates, gates_step
from mfnpe.hh.kinetics import rates_np as classic_rates
from mfnpe.hh.model import constants_table
from mfnpe.hh.models import MODELS
from mfnpe.hh.rest import resting_potential
from mfnpe.stimulus.step import Stimulus
from scipy.optimize import brentq

Q10 = {  # model -> (reference temperature [°C], Q10 per gate type m, h, n(, p))
    "classic": (6.3, (3.0, 3.0, 3.0)),
    "pospischil_rs": (36.0, (3.0, 3.0, 3.0, 2.3)),
    "pospischil_fs": (36.0, (3.0, 3.0, 3.0, 2.3)),
}
KINETIC = {"classic": (), "pospischil_rs": (-56.2, 608.0), "pospischil_fs": (-57.9, 502.0)}


def _table(name: str, n: int = 1, **fixed) -> dict:
    return constants_table({"name": name, **fixed}, np.zeros((n, 0)), ())


def _factor(name: str, temperature: float) -> np.ndarray:
    """Per gate type, the Q10 factor written out here (not the library's)."""
    t_ref, q10 = Q10[name]
    return np.array([q ** ((temperature - t_ref) / 10.0) for q in q10])


# ----------------------------------------------------------------------------- the rates


@pytest.mark.parametrize("name", list(MODELS))
def test_rates_at_26_degrees_are_the_reference_rates_times_q10(name):
    """At 26 °C the NumPy, numba and JAX rates are the model's rates at its reference
    temperature times Q10^((26 − T_ref)/10) per gate type (Pospischil: Na, Kd ÷3, M ÷2.3;
    classic ×3^1.97), to the last bit (NumPy) or to rounding (numba, float32 JAX)."""
    model = MODELS[name]
    assert model.defaults["temperature"] == Q10[name][0]
    v = np.linspace(-100.0, 40.0, 57)
    kinetic = KINETIC[name]
    factor = _factor(name, 26.0)
    if name != "classic":
        np.testing.assert_allclose(factor, [1 / 3, 1 / 3, 1 / 3, 1 / 2.3], rtol=1e-15)
    np.testing.assert_array_equal(model.rate_factors(26.0), factor)
    np.testing.assert_array_equal(model.rate_factors(Q10[name][0]), np.ones(len(factor)))
    base = model.rate_vector(v, kinetic)
    scaled = model.rate_vector(v, kinetic, temperature=26.0)
    np.testing.assert_array_equal(scaled, base * np.repeat(factor, 2)[:, None])
    if name != "classic":  # the paper's own rates
        np.testing.assert_allclose(base, np.array(paper_rates(v, *kinetic)), rtol=1e-12)
    rates, unscaled = np.empty(len(base)), np.empty(len(base))
    for k, x in enumerate(v):
        compiled = markov.compiled_rates(model)
        markov._model_rates(compiled, x, np.array(kinetic), factor, rates)
        np.testing.assert_allclose(rates, scaled[:, k], rtol=1e-13)
        markov._model_rates(compiled, x, np.array(kinetic), np.ones(len(factor)), rates)
        unscaled[:] = [rate(x, np.array(kinetic)) for rate in compiled]
        np.testing.assert_array_equal(rates, unscaled)  # a factor of 1.0 changes no bit
    scale = tuple(jnp.full(v.shape, f, jnp.float32) for f in factor)
    v32, k32 = jnp.asarray(v, jnp.float32), tuple(jnp.full(v.shape, k, jnp.float32)
                                                   for k in kinetic)
    jax_scaled = np.array(gate_rates(model, v32, k32, scale))
    jax_base = np.array(gate_rates(model, v32, k32))  # float32: the reference rates' rounding
    np.testing.assert_array_equal(
        jax_scaled, jax_base * np.repeat(factor.astype(np.float32), 2)[:, None])
    np.testing.assert_allclose(jax_scaled, scaled, rtol=2e-4, atol=1e-30)


def test_time_constants_are_divided_by_tadj_steady_states_kept():
    """ModelDB 123623's form: τx = 1/(α + β)/tadj, x∞ = α/(α + β): the same as both rates
    times tadj. The resting potential does not move."""
    model = MODELS["pospischil_rs"]
    v = np.linspace(-90.0, 30.0, 25)
    for temperature in (22.0, 26.0, 34.0):
        r36 = model.rate_vector(v, KINETIC["pospischil_rs"])
        r = model.rate_vector(v, KINETIC["pospischil_rs"], temperature=temperature)
        for g, q10 in enumerate((3.0, 3.0, 3.0, 2.3)):
            tadj = q10 ** ((temperature - 36.0) / 10.0)
            tau = 1.0 / (r36[2 * g] + r36[2 * g + 1]) / tadj
            np.testing.assert_allclose(1.0 / (r[2 * g] + r[2 * g + 1]), tau, rtol=1e-13)
            np.testing.assert_allclose(r[2 * g] / (r[2 * g] + r[2 * g + 1]),
                                       r36[2 * g] / (r36[2 * g] + r36[2 * g + 1]), rtol=1e-13)
        table = _table("pospischil_rs", temperature=temperature)
        assert resting_potential(table)[0] == resting_potential(_table("pospischil_rs"))[0]


def test_jax_gate_step_relaxes_at_the_scaled_rates():
    """One deterministic gate step of every gate type at 22 °C (RS) is exponential Euler at
    the rates times the gate's factor: M at 2.3^−1.4, the others at 3^−1.4."""
    model = MODELS["pospischil_rs"]
    n, dt, v = 4, 0.5, np.array([-80.0, -60.0, -30.0, 10.0])
    table = _table("pospischil_rs", n, temperature=22.0)
    mem = langevin._membrane(table, Stimulus(1.0, 0.5, 1.0), n, model)
    assert len(mem.rate_scale) == 4
    gates = tuple(jnp.full(n, 0.3, jnp.float32) for _ in range(4))
    stepped = gates_step(model, gates, jnp.asarray(v, jnp.float32), None, mem, dt)
    r = model.rate_vector(v, KINETIC["pospischil_rs"]) * np.repeat(_factor(model.name, 22.0),
                                                                    2)[:, None]
    for g in range(4):
        rate = r[2 * g] + r[2 * g + 1]
        x_inf = r[2 * g] / rate
        expected = x_inf + (0.3 - x_inf) * np.exp(-dt * rate)
        np.testing.assert_allclose(np.asarray(stepped[g]), expected, rtol=2e-6, atol=2e-7)
    default = langevin._membrane(_table("pospischil_rs", n), Stimulus(1.0, 0.5, 1.0), n, model)
    assert default.rate_scale == ()  # the reference temperature: no multiplication at all


# ----------------------------------------------------------------------------- deterministic

STEP = Stimulus(40.0, 5.0, 35.0)


def _reference_rates(name, v, temperature):
    """(α, β per gate type) at ``v`` [mV]: the paper's (Pospischil) or hh_reference's
    (classic) rates times the factor written out in :func:`_factor`."""
    if name == "classic":
        r = [classic_rates.alpha_m(v), classic_rates.beta_m(v), classic_rates.alpha_h(v),
             classic_rates.beta_h(v), classic_rates.alpha_n(v), classic_rates.beta_n(v)]
    else:
        r = list(paper_rates(v, *PAPER[name][5:]))
    return [rate * f for rate, f in zip(r, np.repeat(_factor(name, temperature), 2))]


def _reference_spikes(name, temperature, amplitude=10.0, grid_ms=0.001):
    """Spike peak times [ms] of the model at ``temperature`` by solve_ivp (LSODA, rtol
    1e-10, atol 1e-12), from its rest (brentq; temperature-free), piecewise over the step
    (``hh_reference.step_spike_times``)."""
    d = MODELS[name].defaults
    channels = [("gNa", "ENa", (3, 1)), ("gK", "EK", (0, 0, 4))]
    if name != "classic":
        channels.append(("gM", "EK", (0, 0, 0, 1)))

    def current(v, x):
        total = d["gL"] * (v - d["EL"])
        for g, e, powers in channels:
            total = total + d[g] * np.prod([x[i] ** p for i, p in enumerate(powers)],
                                           axis=0) * (v - d[e])
        return total

    def inf(v):
        r = _reference_rates(name, v, temperature)
        return [r[2 * i] / (r[2 * i] + r[2 * i + 1]) for i in range(len(r) // 2)]

    def rhs(t, y, amp):
        v, x = y[0], y[1:]
        r = _reference_rates(name, v, temperature)
        gates = [r[2 * i] * (1 - x[i]) - r[2 * i + 1] * x[i] for i in range(len(x))]
        return [(amp - current(v, x)) / d["C"], *gates]

    v0 = brentq(lambda v: current(v, inf(v)), -90.0, -60.0, xtol=1e-13)
    if name != "classic":
        assert v0 == pytest.approx(brentq(lambda v: current(v, paper_inf(v, PAPER[name])),
                                          -90.0, -60.0, xtol=1e-13), abs=1e-9)
    return step_spike_times(rhs, [v0, *inf(v0)], STEP, amplitude, grid_ms)


@pytest.mark.parametrize("name, temperature", [("pospischil_rs", 26.0), ("pospischil_fs", 30.0),
                                               ("classic", 16.3)])
def test_deterministic_spike_times_at_another_temperature_match_solve_ivp(name, temperature):
    """Every spike of a 10 µA/cm² step (5–35 ms) at another temperature within 0.02 ms of
    the solve_ivp reference with the scaled rates (library dt 0.005 ms, as
    tests/test_models.py at the default), and the spikes differ from the default's."""
    dt = 0.005
    table = _table(name, temperature=temperature)
    out = langevin.simulate_deterministic(table, STEP, dt, np.zeros(1, np.uint32))
    expected = _reference_spikes(name, temperature)
    spikes = peak_times(out.v[0].astype(np.float64), dt)
    default = peak_times(langevin.simulate_deterministic(_table(name), STEP, dt,
                                                     np.zeros(1, np.uint32)).v[0].astype(float),
                     dt)
    print(name, temperature, "°C:", len(expected), "spikes, max |error| [ms]",
          np.abs(spikes - expected).max() if spikes.shape == expected.shape else spikes,
          "; at the default", len(default), "spikes")
    assert len(expected) >= 2
    assert spikes.shape == expected.shape
    np.testing.assert_allclose(spikes, expected, atol=0.02, rtol=0)
    assert default.shape != spikes.shape or np.abs(default - spikes).max() > 0.5


# ----------------------------------------------------------------------------- stochastic


def _open_correlation(model, clamp_mV, temperature, lag_ms):
    """Theory per channel: stationary open probability P and the correlation of a channel's
    open indicator at lag ``lag_ms``, ``[Π_g (p_g + (1 − p_g) e^(−λ_g t))^k_g − P] / (1 − P)``,
    λ_g = (α_g + β_g) × factor (gates independent, each a two-state chain)."""
    r = np.array(_reference_rates(model.name, np.float64(clamp_mV), temperature))
    found = []
    for channel in model.channels:
        p_open, joint = 1.0, 1.0
        for gate, power in channel.gates:
            g = model.gate_index(gate)
            p = r[2 * g] / (r[2 * g] + r[2 * g + 1])
            decay = np.exp(-(r[2 * g] + r[2 * g + 1]) * lag_ms)
            p_open *= p**power
            joint *= (p + (1 - p) * decay) ** power
        found.append((p_open, (joint - p_open) / (1 - p_open)))
    return found


@pytest.mark.parametrize("method", ["markov", "binomial"])
def test_clamped_channels_at_26_degrees_keep_binomial_law_and_slow_down(method):
    """RS clamped at −30 mV at 26 °C (no Na channels: gNa 0; 3600 Kd channels at gK 24,
    300 µm²), 64 simulations of 12 ms: the Kd open fraction's mean and variance are the
    binomial ones of the (temperature-free) steady state, and its autocorrelation at lag
    1.36 ms (one n-gate time constant at 36 °C) is the theory's at 26 °C (0.53; 36 °C
    would be 0.19) within 0.06: the rates are ×1/3."""
    simulate, dt, _ = SIMULATORS[method]
    n, lag_ms = 64, 1.36
    model = MODELS["pospischil_rs"]
    table = _table("pospischil_rs", n, area=300.0, gNa=0.0, gK=24.0, temperature=26.0)
    out = simulate(table, Stimulus(12.0, 1.0, 2.0), dt, np.arange(n, dtype=np.uint32),
                   clamp_mV=-30.0, record_open=True)
    n_kd = model.channel_counts(table)[1][0]
    x = out.open["Kd"].astype(float)  # (n, T)
    (_, _), (p, rho), (_, _) = _open_correlation(model, -30.0, 26.0, lag_ms)
    (_, _), (_, rho_36), (_, _) = _open_correlation(model, -30.0, 36.0, lag_ms)
    se = np.sqrt(p * (1 - p) / n_kd / n)
    lag = round(lag_ms / dt)
    centred = x - p
    measured = (centred[:, :-lag] * centred[:, lag:]).mean() / (centred**2).mean()
    print(method, "Kd", n_kd, "mean", x[:, -1].mean(), "p", p, "rho", measured, "theory",
          rho, "at 36 °C", rho_36)
    assert abs(x[:, -1].mean() - p) < 4 * se
    assert x[:, -1].var() == pytest.approx(p * (1 - p) / n_kd, rel=0.3)
    assert abs(measured - rho) < 0.06 and rho - rho_36 > 0.3


@pytest.mark.parametrize("simulator", list(SIMULATORS))
def test_every_simulator_fires_the_deterministic_spikes_at_another_temperature(simulator):
    """At 26 °C and a large area (RS, 10⁷ µm² for binomial, 10⁴ markov, 10⁶ the Langevin
    models) every simulator fires the deterministic model's spikes at 26 °C (same dt) within
    0.05 / 0.5 / 0.1 ms; at 36 °C their spikes are elsewhere."""
    simulate, _, options = SIMULATORS[simulator]
    dt, stimulus = 0.01, Stimulus(16.0, 2.0, 16.0)
    det = langevin.simulate_deterministic(_table("pospischil_rs", temperature=26.0), stimulus,
                                          dt, np.zeros(1, np.uint32))
    expected = peak_times(det.v[0].astype(float), dt)
    area, tolerance = {"binomial": (1e7, 0.05), "markov": (1e4, 0.5)}.get(simulator, (1e6, 0.1))
    options = {**options, "sigma": 0.01} if simulator == "current_noise" else options
    out = simulate(_table("pospischil_rs", area=area, temperature=26.0), stimulus, dt,
                   np.arange(1, dtype=np.uint32), **options)
    spikes = peak_times(out.v[0].astype(float), dt)
    warm = peak_times(langevin.simulate_deterministic(_table("pospischil_rs"), stimulus, dt,
                                                  np.zeros(1, np.uint32)).v[0].astype(float), dt)
    print(simulator, "spikes", spikes, "deterministic at 26 °C", expected, "at 36 °C", warm)
    assert len(expected) >= 1 and spikes.shape == expected.shape
    assert np.abs(spikes - expected).max() < tolerance
    assert warm.shape != expected.shape or np.abs(warm - expected).max() > 1.0


def test_default_temperature_is_bit_identical_to_no_factor():
    """At the default temperature no factor is applied anywhere (JAX: no multiplication in
    the compiled step; numba: the factor 1.0 is skipped), and a table at the default equals
    one with the temperature given explicitly, bit for bit, in markov and edge_langevin."""
    for name in MODELS:
        t_ref = MODELS[name].defaults["temperature"]
        implicit, explicit = _table(name, 2, area=300.0), _table(name, 2, area=300.0,
                                                                   temperature=t_ref)
        assert np.array_equal(MODELS[name].factors_of(explicit), np.ones((len(Q10[name][1]), 2)))
        for simulate in (markov.simulate_markov, langevin.simulate_edge_langevin):
            a = simulate(implicit, Stimulus(6.0, 1.0, 5.0), 0.025, np.arange(2, dtype=np.uint32))
            b = simulate(explicit, Stimulus(6.0, 1.0, 5.0), 0.025, np.arange(2, dtype=np.uint32))
            np.testing.assert_array_equal(a.v, b.v)
