"""Oracles written independently of ``mfnpe``: the HH equations solved by scipy, and eFEL.

The reference model types the six rates as Hodgkin & Huxley (1952, J. Physiol. 117:500)
wrote them, in ``u``, the depolarisation from their resting potential (−65 mV here, sign
flipped to the modern convention), and integrates the ODE with ``solve_ivp`` (LSODA,
rtol 1e-10, atol 1e-12; Radau agrees to 2e-7 ms) through ``hh_reference.step_spike_times``
(the piecewise solve and the peak reading, given the right-hand side written here); it
starts at its own resting potential (brentq on its own steady-state current). No library
code is used for the reference; eFEL 5 computes the features
(``hh_reference.assert_features_match_efel``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hh_reference import assert_features_match_efel, peak_times, step_spike_times
from mfnpe.hh import langevin, markov
from mfnpe.hh.model import constants_table
from mfnpe.stimulus.step import Stimulus
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
E_NA, E_K, E_L, CAP = 50.0, -77.0, -54.4, 1.0  # mV, µF/cm² (library defaults)


# ----------------------------------------------------------------------------- HH 1952


def _x_over_expm1(x):
    """x / (e^x − 1), 1 − x/2 near its removable singularity at 0."""
    small = np.abs(x) < 1e-7
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - 0.5 * x, safe / np.expm1(safe))


def _hh1952_rates(v):
    """(αm, βm, αh, βh, αn, βn) [1/ms] at ``v`` [mV] (modern sign, rest −65 mV)."""
    u = np.asarray(v, dtype=float) + 65.0  # depolarisation [mV]; HH 1952 wrote V = −u
    a_m = _x_over_expm1((25.0 - u) / 10.0)  # 0.1 (25 − u) / (exp((25 − u)/10) − 1)
    a_n = 0.1 * _x_over_expm1((10.0 - u) / 10.0)  # 0.01 (10 − u) / (exp((10 − u)/10) − 1)
    b_m = 4.0 * np.exp(-u / 18.0)
    a_h = 0.07 * np.exp(-u / 20.0)
    b_h = 1.0 / (np.exp((30.0 - u) / 10.0) + 1.0)
    b_n = 0.125 * np.exp(-u / 80.0)
    return a_m, b_m, a_h, b_h, a_n, b_n


def _gates_inf(v):
    a_m, b_m, a_h, b_h, a_n, b_n = _hh1952_rates(v)
    return a_m / (a_m + b_m), a_h / (a_h + b_h), a_n / (a_n + b_n)


def _ionic(v, m, h, n, g):
    g_na, g_k, g_l = g
    return g_na * m**3 * h * (v - E_NA) + g_k * n**4 * (v - E_K) + g_l * (v - E_L)


def _rest(g) -> float:
    """The reference's resting potential [mV] for ``g`` = (gNa, gK, gL) floats: the root of
    its steady-state current (one root in the prior box)."""
    return brentq(lambda v: float(_ionic(v, *_gates_inf(v), g)), -90.0, -40.0, xtol=1e-13)


def _rhs(t, y, g, current):
    """HH ODE for k neurons at once: ``y`` = (V, m, h, n) each (k,), ``g`` 3 x (k,)."""
    v, m, h, n = np.split(y, 4)
    a_m, b_m, a_h, b_h, a_n, b_n = _hh1952_rates(v)
    return np.concatenate([(current - _ionic(v, m, h, n, g)) / CAP,
                           a_m * (1 - m) - b_m * m, a_h * (1 - h) - b_h * h,
                           a_n * (1 - n) - b_n * n])


def _rhs_one(t, y, g, current):
    """HH ODE of one neuron, ``y`` = (V, m, h, n), in scalar arithmetic (fast for scipy)."""
    v, m, h, n = y
    a_m, b_m, a_h, b_h, a_n, b_n = (float(r) for r in _hh1952_rates(v))
    return [(current - float(_ionic(v, m, h, n, g))) / CAP, a_m * (1 - m) - b_m * m,
            a_h * (1 - h) - b_h * h, a_n * (1 - n) - b_n * n]


def _reference_spikes(g, amplitude, stimulus: Stimulus, grid_ms: float = 0.001) -> np.ndarray:
    """Spike peak times [ms] (maxima of V above −10 mV) of the reference for one neuron,
    by ``hh_reference.step_spike_times``: LSODA at rtol 1e-10, atol 1e-12 (Radau gives the
    same peaks to 2e-7 ms, 20x slower), integrated piecewise so the solver never steps
    across the current's jumps; V read on a ``grid_ms`` grid from the solver's dense
    output, peaks refined by parabolas.
    """
    v0 = _rest(g)
    return step_spike_times(lambda t, y, current: _rhs_one(t, y, g, current),
                            [v0, *(float(x) for x in _gates_inf(v0))], stimulus, amplitude,
                            grid_ms)


THETAS = [(120.0, 36.0, 0.3), (100.0, 25.0, 0.15), (150.0, 30.0, 0.5), (200.0, 50.0, 0.2)]
"""(gNa, gK, gL) [mS/cm²]: classic HH and three others that fire repetitively at 10 µA/cm²."""


def test_deterministic_spike_times_match_hh1952_reference():
    """Every spike of a 10 µA/cm² step (10–110 ms of 120) within 0.02 ms of the reference.

    dt 0.005 ms, spike times refined by parabolas on both sides; measured max |error|
    0.0016 ms (0.0065 ms at dt 0.01).
    """
    dt, stimulus = 0.005, Stimulus()
    table = constants_table({"amplitude": 10.0}, np.array(THETAS), ("gNa", "gK", "gL"))
    out = langevin.simulate_deterministic(table, stimulus, dt, np.zeros(len(THETAS), np.uint32))
    for g, trace in zip(THETAS, out.v.astype(np.float64)):
        expected = _reference_spikes(g, 10.0, stimulus)
        spikes = peak_times(trace, dt)
        print(g, len(expected), "max |error| [ms]", np.abs(spikes - expected).max())
        assert len(expected) >= 3
        assert spikes.shape == expected.shape, g
        np.testing.assert_allclose(spikes, expected, atol=0.02, rtol=0)


# ----------------------------------------------------------------------------- start at rest


def _prior_draws(n: int) -> np.ndarray:
    """(n, 3) θ drawn uniformly from the default config's prior box (gNa, gK, gL)."""
    prior = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["prior"]
    assert list(prior) == ["gNa", "gK", "gL"]
    low, high = np.array(list(prior.values())).T
    return np.random.default_rng(0).uniform(low, high, (n, 3))


def _stable_rest(g, v_rest: float) -> bool:
    """Whether the reference's rest is linearly stable (Jacobian by central differences)."""
    y = np.array([v_rest, *(float(x) for x in _gates_inf(v_rest))])
    columns = [(np.array(_rhs_one(0.0, y + e, g, 0.0)) - np.array(_rhs_one(0.0, y - e, g, 0.0)))
               / 2e-7 for e in np.eye(4) * 1e-7]
    return bool(np.linalg.eigvals(np.column_stack(columns)).real.max() < 0.0)


def test_prior_draws_rest_without_current():
    """With no current no prior draw with a stable rest spikes: they start at their rest.

    200 draws; 8 have an unstable rest (pacemakers: they fire from rest under any noise)
    and are left out. Precondition (the reference, 10 ms): started at −65 mV instead, as
    before, 14 of the others spike (the rests range from −71 to −57 mV); ``binomial`` is
    run on those 14. Deterministic model: V
    within 1e-3 mV of the reference rest for 120 ms. ``binomial`` at 10⁸ µm² (6·10⁹ Na
    channels): within 0.05 mV for 60 ms.
    """
    theta = _prior_draws(200)
    rest = np.array([_rest(row) for row in theta])
    stable = np.array([_stable_rest(row, v) for row, v in zip(theta, rest)])
    minus_65 = np.full(len(theta), -65.0)
    old_start = np.concatenate([minus_65, *_gates_inf(minus_65)])
    sol = solve_ivp(_rhs, (0.0, 10.0), old_start, args=(list(theta.T), 0.0), method="LSODA",
                    rtol=1e-8, atol=1e-10, max_step=0.05)
    spiked_from_minus_65 = sol.y[: len(theta)].max(axis=1) > -10.0
    print("unstable:", (~stable).sum(), "stable, spiked from -65 mV:",
          (spiked_from_minus_65 & stable).sum())
    assert (~stable).sum() <= 20 and (spiked_from_minus_65 & stable).sum() >= 10
    spiked = spiked_from_minus_65[stable]
    theta, rest = theta[stable], rest[stable]

    table = constants_table({"amplitude": 0.0}, theta, ("gNa", "gK", "gL"))
    seeds = np.arange(len(theta), dtype=np.uint32)
    det = langevin.simulate_deterministic(table, Stimulus(), 0.01, seeds).v
    assert np.abs(det - rest[:, None]).max() < 1e-3
    huge = {name: values[spiked] for name, values in table.items()}
    huge["area"][:] = 1e8
    binomial = markov.simulate_binomial(huge, Stimulus(60.0, 10.0, 50.0), 0.01, seeds[spiked]).v
    assert np.abs(binomial[:, 0] - rest[spiked]).max() < 1e-5  # float32 traces
    assert np.abs(binomial - rest[spiked, None]).max() < 0.05


# ----------------------------------------------------------------------------- eFEL


@pytest.fixture(scope="module")
def traces():
    """(traces (n, T), dt, stimulus): deterministic tonic, near-threshold and silent
    neurons, and noisy ``markov`` ones at 100 µm² (irregular ISIs, resting noise)."""
    dt, stimulus = 0.01, Stimulus()
    det_theta = np.array([*THETAS, (120.0, 36.0, 0.3)])
    amplitude = np.array([10.0, 10.0, 10.0, 10.0, 2.0])  # the last one stays silent
    table = constants_table({}, det_theta, ("gNa", "gK", "gL"))
    table["amplitude"] = amplitude
    det = langevin.simulate_deterministic(table, stimulus, dt, np.zeros(5, np.uint32)).v
    noisy_theta = np.array(THETAS[:2] * 2)
    noisy = markov.simulate_markov(constants_table({}, noisy_theta, ("gNa", "gK", "gL")),
                                   stimulus, dt, np.arange(4, dtype=np.uint32)).v
    return np.concatenate([det, noisy]).astype(np.float64), dt, stimulus


def test_features_match_efel(traces):
    """spike_count = eFEL spike_count; isi_mean, isi_cv (population SD) from eFEL's ISIs
    within 1e-6 ms; first_spike_latency = time_to_first_spike; rest_mean = voltage_base over
    the whole pre-stimulus time, within 1e-4 mV."""
    v, dt, stimulus = traces
    counts = assert_features_match_efel(v, dt, stimulus)
    assert min(counts) == 0 and max(counts) >= 5  # silent and tonic traces both tested
