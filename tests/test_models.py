"""Neuron models as data (mfnpe.hh.models): the registry, and the Pospischil et al. (2008)
cortical neurons in every simulator.

The Pospischil reference here is written from the paper's equations (Biol. Cybern.
99:427, its Eqs. for I_Na, I_Kd, I_M and the leak; not mfnpe's rate functions) and solved
by scipy's ``solve_ivp`` (LSODA, rtol 1e-10, atol 1e-12), started at its own resting
potential (brentq on its own steady-state current).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hh_reference import peak_times as _peaks
from hh_reference import PAPER, SIMULATORS, paper_inf, paper_rates, step_spike_times
from mfnpe.hh import langevin, markov
from mfnpe.hh.kinetics import K_TRANSITIONS, NA_TRANSITIONS
from mfnpe.hh.model import NAMES, constants_table
from mfnpe.hh.models import MODELS, get_model
from mfnpe.hh.rest import resting_potential
from mfnpe.stimulus.step import Stimulus
from mfnpe.plan.config import MODEL_CHOICE, ConfigError, validate_config
from workflow_helpers import CONFIG_SCHEMA
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
POSPISCHIL = ("pospischil_rs", "pospischil_fs")
E_NA, E_K, CAP = 50.0, -90.0, 1.0


def _table(name: str, n: int = 1, **fixed) -> dict:
    return constants_table({"name": name, **fixed}, np.zeros((n, 0)), ())


# ----------------------------------------------------------------------------- the paper


def _paper_current(v, m, h, n, p, c):
    g_na, g_k, g_m, g_l, e_l = c[:5]
    return (g_na * m**3 * h * (v - E_NA) + g_k * n**4 * (v - E_K) + g_m * p * (v - E_K)
            + g_l * (v - e_l))


def _paper_rest(c) -> float:
    return brentq(lambda v: _paper_current(v, *paper_inf(v, c), c), -85.0, -60.0, xtol=1e-13)


def _paper_rhs(t, y, c, current):
    v, m, h, n, p = y
    a_m, b_m, a_h, b_h, a_n, b_n, a_p, b_p = paper_rates(v, c[5], c[6])
    return [(current - _paper_current(v, m, h, n, p, c)) / CAP, a_m * (1 - m) - b_m * m,
            a_h * (1 - h) - b_h * h, a_n * (1 - n) - b_n * n, a_p * (1 - p) - b_p * p]


def _paper_spikes(c, amplitude, stimulus: Stimulus, grid_ms: float = 0.001) -> np.ndarray:
    """Spike peak times [ms] of the paper's model (LSODA, rtol 1e-10, atol 1e-12), piecewise
    over the step so the solver never crosses the current's jumps
    (``hh_reference.step_spike_times``)."""
    v0 = _paper_rest(c)
    return step_spike_times(lambda t, y, current: _paper_rhs(t, y, c, current),
                            [v0, *paper_inf(v0, c)], stimulus, amplitude, grid_ms)


# ----------------------------------------------------------------------------- registry


def test_registry_is_the_config_schema():
    """Model names, their constants and defaults: the registry, the schema and the paper."""
    section = CONFIG_SCHEMA["properties"]["model"]
    assert section["properties"]["name"]["enum"] == list(MODELS)
    assert {name: model.defaults for name, model in MODELS.items()} == section["x-model-defaults"]
    assert [k for k in section["properties"] if k not in MODEL_CHOICE] == list(NAMES)
    for name, (g_na, g_k, g_m, g_l, e_l, vt, tau_max) in PAPER.items():
        d = MODELS[name].defaults
        assert (d["gNa"], d["gK"], d["gM"], d["gL"], d["EL"], d["VT"], d["tau_max"]) == (
            g_na, g_k, g_m, g_l, e_l, vt, tau_max)
        assert (d["ENa"], d["EK"], d["C"]) == (E_NA, E_K, CAP)


def test_classic_schemes_are_the_hand_written_ones():
    classic = MODELS["classic"]
    na, k = classic.channels
    np.testing.assert_array_equal(classic.transitions(na), NA_TRANSITIONS)
    np.testing.assert_array_equal(classic.transitions(k), K_TRANSITIONS)
    assert na.states[na.open_state] == "m3h1" and na.index((1, 1)) == 5
    m_channel = MODELS["pospischil_rs"].channels[2]
    assert m_channel.n_states == 2 and MODELS["pospischil_rs"].transitions(m_channel).tolist() == [
        [0, 1, 6, 1], [1, 0, 7, 1]]


def test_constants_refused_for_the_wrong_model():
    with pytest.raises(ValueError, match="'classic'.*gNa"):
        constants_table({"gM": 0.1})
    with pytest.raises(ValueError, match="unknown neuron model"):
        constants_table({"name": "squid"})
    with pytest.raises(ConfigError, match="model/gM.*'classic'"):
        validate_config({"model": {"gM": 0.1}}, CONFIG_SCHEMA)
    with pytest.raises(ConfigError, match="prior/gM"):
        validate_config({"prior": {"gM": [0.0, 0.2]}}, CONFIG_SCHEMA)
    config = validate_config({"model": {"name": "pospischil_fs", "area": 300.0},
                              "prior": {"gM": [0.01, 0.2], "VT": [-60.0, -55.0]}}, CONFIG_SCHEMA)
    assert config["model"]["tau_max"] == 502.0 and config["model"]["area"] == 300.0
    table = constants_table({k: v for k, v in config["model"].items() if k not in config["prior"]},
                            np.array([[0.05, -58.0]]), ["gM", "VT"])
    assert table["gM"][0] == 0.05 and table["tau_max"][0] == 502.0
    assert table["model"][0] == "pospischil_fs"


@pytest.mark.parametrize("name", POSPISCHIL)
def test_resting_potential_is_the_papers(name):
    """The library's rest (grid + bisection) equals brentq on the paper's current."""
    rest = resting_potential(_table(name))[0]
    assert rest == pytest.approx(_paper_rest(PAPER[name]), abs=1e-9)
    print(name, "rest [mV]", rest)


# ----------------------------------------------------------------------------- deterministic

SPIKE_STIMULUS = Stimulus(40.0, 5.0, 35.0)


@pytest.mark.parametrize("name", POSPISCHIL)
def test_deterministic_spike_times_match_the_paper_solved_by_scipy(name):
    """Every spike of a 10 µA/cm² step (5–35 ms) within 0.02 ms of the solve_ivp reference;
    library dt 0.005 ms, peaks refined by parabolas on both sides."""
    dt = 0.005
    out = langevin.simulate_deterministic(_table(name), SPIKE_STIMULUS, dt, np.zeros(1, np.uint32))
    expected = _paper_spikes(PAPER[name], 10.0, SPIKE_STIMULUS)
    spikes = _peaks(out.v[0].astype(np.float64), dt)
    print(name, len(expected), "spikes, max |error| [ms]", np.abs(spikes - expected).max())
    assert len(expected) >= 3
    assert spikes.shape == expected.shape
    np.testing.assert_allclose(spikes, expected, atol=0.02, rtol=0)


def test_features_of_pospischil_traces_match_efel():
    """spike_count, isi_mean, isi_cv, first_spike_latency, rest_mean of RS and FS traces
    (deterministic; markov at 300 µm², with M-channel noise) equal eFEL's (set up as in
    tests/test_oracles.py) to 1e-6 ms / 1e-4 mV."""
    from hh_reference import assert_features_match_efel

    dt, stimulus = 0.01, Stimulus(60.0, 10.0, 50.0)
    traces = []
    for name in POSPISCHIL:
        table = _table(name, 3)
        table["amplitude"] = np.array([10.0, 3.0, 0.0])
        traces.append(langevin.simulate_deterministic(table, stimulus, dt,
                                                      np.zeros(3, np.uint32)).v)
        noisy = _table(name, 2, area=300.0)
        traces.append(markov.simulate_markov(noisy, stimulus, dt, np.arange(2, dtype=np.uint32)).v)
    v = np.concatenate(traces).astype(np.float64)
    counts = assert_features_match_efel(v, dt, stimulus)
    print("spike counts", counts)
    assert min(counts) == 0 and max(counts) >= 5


# ----------------------------------------------------------------------------- stochastic


def _open_probability(name: str, v: float) -> list[float]:
    """Stationary open probability of Na (m³h), Kd (n⁴), M (p) at ``v``, from the paper."""
    m, h, n, p = paper_inf(v, PAPER[name])
    return [m**3 * h, n**4, p]


@pytest.mark.parametrize("method", ["markov", "binomial"])
@pytest.mark.parametrize("name, clamp_mV", [("pospischil_rs", -30.0), ("pospischil_fs", -50.0)])
def test_clamped_open_fractions_are_binomial(method, name, clamp_mV):
    """Under a clamp every channel's open count is Binomial(N, p) (p from the paper's
    rates): mean within 4 standard errors and 3% of p, variance within 25% of p(1−p)/N;
    200 simulations of 3 ms at 300 µm² (RS: 8400 Na, 900 Kd, 11 M channels), sampled at
    the end (the start is drawn from the same law, so this also tests the dynamics)."""
    simulate, dt, _ = SIMULATORS[method]
    n = 200
    table = _table(name, n, area=300.0)
    out = simulate(table, Stimulus(3.0, 1.0, 2.0), dt, np.arange(n, dtype=np.uint32),
                   clamp_mV=clamp_mV, record_open=True)
    counts = MODELS[name].channel_counts(table)
    for (channel, fraction), p, n_c in zip(out.open.items(), _open_probability(name, clamp_mV),
                                           counts):
        x = fraction[:, -1].astype(float)
        se = np.sqrt(p * (1 - p) / n_c[0] / n)
        print(method, name, channel, n_c[0], "mean", x.mean(), "p", p)
        assert abs(x.mean() - p) < max(4 * se, 1e-3) and abs(x.mean() - p) < 0.03 * p + 4 * se
        assert x.var() == pytest.approx(p * (1 - p) / n_c[0], rel=0.25)


@pytest.mark.parametrize("name", POSPISCHIL)
def test_noise_free_limit_is_the_deterministic_model(name):
    """binomial at 10⁷ µm² (2.8·10⁸ Na, 3.75·10⁵ M channels for RS) and markov at 10⁴ µm²
    fire the deterministic model's spikes (same dt 0.01): within 0.05 / 0.5 ms."""
    dt, stimulus = 0.01, Stimulus(16.0, 2.0, 16.0)
    det = langevin.simulate_deterministic(_table(name), stimulus, dt, np.zeros(1, np.uint32))
    expected = _peaks(det.v[0].astype(float), dt)
    assert len(expected) >= 2
    for method, area, tolerance in (("binomial", 1e7, 0.05), ("markov", 1e4, 0.5)):
        out = SIMULATORS[method][0](_table(name, 1, area=area), stimulus, dt,
                                    np.arange(1, dtype=np.uint32))
        for row in out.v:
            spikes = _peaks(row.astype(float), dt)
            print(name, method, "max |spike time − deterministic| [ms]",
                  np.abs(spikes - expected).max() if spikes.shape == expected.shape else spikes)
            assert spikes.shape == expected.shape
            assert np.abs(spikes - expected).max() < tolerance


MODEL_FILES = ("tests/models/hh_a_current.py",)


@pytest.mark.parametrize("model", [*MODELS, *MODEL_FILES])
def test_every_simulator_runs_every_model_and_starts_at_rest(model, monkeypatch):
    """Zero current, 1000 µm²: every simulator of every registered model and of a model
    file (tests/models/hh_a_current.py) gives finite traces that start at the model's
    rest, whose mean over 8 simulations at 1 ms is the rest (within 4 standard errors +
    1e-3 mV) and which never spike (max V < −40 mV over 10 ms)."""
    monkeypatch.chdir(ROOT)
    n, stimulus = 8, Stimulus(10.0, 1.0, 9.0)
    fixed = {"area": 1000.0, "amplitude": 0.0}
    if model in MODEL_FILES:
        fixed["file"] = model
    elif model != "classic":
        fixed["name"] = model
    table = constants_table(fixed, np.zeros((n, 0)))
    rest = resting_potential(table)[0]
    for simulator, (simulate, dt, options) in SIMULATORS.items():
        out = simulate(table, stimulus, dt, np.arange(n, dtype=np.uint32), record_open=True,
                       **options)
        assert np.isfinite(out.v).all(), simulator
        assert len(out.open) == len(get_model(model).channels)
        np.testing.assert_allclose(out.v[:, 0], rest, atol=1e-4)
        at_1ms = out.v[:, round(1.0 / dt)].astype(float)
        drift = abs(at_1ms.mean() - rest)
        se = at_1ms.std() / np.sqrt(n)
        print(model, simulator, "mean V(1 ms) − rest [mV]", drift, "SE", se, "max V",
              out.v.max())
        assert drift < 4 * se + 1e-3, simulator
        assert out.v.max() < -40.0, simulator


@pytest.fixture(scope="module")
def clamped_markov():
    """markov, RS at 3000 µm² (84 000 Na, 9000 Kd, 112 M channels) clamped at −30 mV:
    16 simulations of 2 ms."""
    n, stimulus = 16, Stimulus(2.0, 1.0, 1.5)
    table = _table("pospischil_rs", n, area=3000.0)
    out = markov.simulate_markov(table, stimulus, 0.01, np.arange(n, dtype=np.uint32),
                                 clamp_mV=-30.0, record_open=True)
    return table, stimulus, out


@pytest.mark.parametrize("simulator", ["subunit_langevin", "edge_langevin"])
def test_langevin_open_fractions_match_markov_at_large_area(simulator, clamped_markov):
    """Clamped at −30 mV, RS at 3000 µm²: the mean open fraction of every channel over 64
    simulations within 3% of p (the paper's rates) and within 4 standard errors (+1%) of
    markov's (16 simulations)."""
    table, stimulus, exact = clamped_markov
    n = 64
    table = {k: np.resize(v, n) for k, v in table.items()}
    approx = SIMULATORS[simulator][0](table, stimulus, 0.025, np.arange(n, dtype=np.uint32),
                                      clamp_mV=-30.0, record_open=True)
    for channel, p in zip(exact.open, _open_probability("pospischil_rs", -30.0)):
        ours = approx.open[channel][:, 20:].mean()
        per_sim = exact.open[channel][:, 50:].mean(axis=1)
        theirs, se = per_sim.mean(), per_sim.std() / np.sqrt(len(per_sim))
        print(simulator, channel, "mean open", ours, "markov", theirs, "SE", se, "p", p)
        assert ours == pytest.approx(p, rel=0.03)
        assert abs(ours - theirs) < 4 * se + 0.01 * p


def test_edge_langevin_warning_names_the_few_m_channels():
    from mfnpe.simulation.regimes import channel_count_warnings

    (message,) = channel_count_warnings("edge_langevin", {"name": "pospischil_rs"}, {})
    assert "2800 Na, 300 Kd and 4 M channels" in message and "M channel has only 4" in message
