"""A neuron model from a user's file (config ``model: {file: ...}``): Hodgkin & Huxley's
axon with an A-type K⁺ current (tests/models/hh_a_current.py), a channel no shipped model
has, run by every simulator without registering it anywhere (through the workflow:
tests/test_out_workflow.py, the second experiment beside the tiny run).

The reference is written here from the papers' equations (Hodgkin & Huxley 1952; Connor &
Stevens 1977 as in Dayan & Abbott 2001, Eq. 6.4), not from the model file, and solved by
scipy's ``solve_ivp`` (LSODA, rtol 1e-10, atol 1e-12) from its own resting potential.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mfnpe.hh import langevin, markov
from mfnpe.hh.model import constants_table
from mfnpe.hh.models import MODELS, get_model, load_model_file
from mfnpe.hh.rest import resting_potential
from mfnpe.stimulus.step import Stimulus
from mfnpe.plan.config import ConfigError, validate_config
from hh_reference import peak_times, step_spike_times
from scipy.optimize import brentq
from workflow_helpers import CONFIG_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = "tests/models/hh_a_current.py"
E_NA, E_K, E_A, G_L, E_L = 50.0, -77.0, -80.0, 0.3, -54.4


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's relative paths are to the working directory


def _table(n: int = 1, theta=None, names=(), **fixed) -> dict:
    theta = np.zeros((n, 0)) if theta is None else np.asarray(theta, dtype=float)
    return constants_table({"file": MODEL_FILE, **fixed}, theta, names)


# ----------------------------------------------------------------------------- the papers


def _x_over(x):
    return x / (1.0 - np.exp(-x)) if abs(x) > 1e-9 else 1.0 + x / 2.0


def _paper_rates(v: float, va: float):
    """(x∞, τx) for m, h, n (Hodgkin & Huxley) and a, b (Connor & Stevens) at ``v`` [mV]."""
    a_m, b_m = _x_over((v + 40.0) / 10.0), 4.0 * np.exp(-(v + 65.0) / 18.0)
    a_h, b_h = 0.07 * np.exp(-(v + 65.0) / 20.0), 1.0 / (1.0 + np.exp(-(v + 35.0) / 10.0))
    a_n, b_n = 0.1 * _x_over((v + 55.0) / 10.0), 0.125 * np.exp(-(v + 65.0) / 80.0)
    u = v - va
    a_cube = 0.0761 * np.exp(0.0314 * (u + 94.22)) / (1.0 + np.exp(0.0346 * (u + 1.17)))
    a_inf = np.cbrt(min(a_cube, 1.0))  # a probability: capped where the formula passes 1
    tau_a = 0.3632 + 1.158 / (1.0 + np.exp(0.0497 * (u + 55.96)))
    b_inf = 1.0 / (1.0 + np.exp(0.0688 * (u + 53.3))) ** 4
    tau_b = 1.24 + 2.678 / (1.0 + np.exp(0.0624 * (u + 50.0)))
    hh = [(a / (a + b), 1.0 / (a + b)) for a, b in ((a_m, b_m), (a_h, b_h), (a_n, b_n))]
    return [*hh, (a_inf, tau_a), (b_inf, tau_b)]


def _paper_current(v, m, h, n, a, b, g_na, g_k, g_a):
    return (g_na * m**3 * h * (v - E_NA) + g_k * n**4 * (v - E_K) + g_a * a**3 * b * (v - E_A)
            + G_L * (v - E_L))


def _paper_rest(g, va) -> float:
    def current(v):
        return _paper_current(v, *(x for x, _ in _paper_rates(v, va)), *g)
    return brentq(current, -90.0, -50.0, xtol=1e-13)


def _paper_rhs(t, y, amplitude, g, va):
    v, *gates = y
    rates = _paper_rates(v, va)
    return [amplitude - _paper_current(v, *gates, *g),
            *((x_inf - x) / tau for x, (x_inf, tau) in zip(gates, rates, strict=True))]


def _paper_spikes(g, va, amplitude, stimulus: Stimulus) -> np.ndarray:
    """Spike peak times [ms] of the papers' model from its own rest
    (:func:`hh_reference.step_spike_times`: LSODA piecewise over the step)."""
    v0 = _paper_rest(g, va)
    y0 = [v0, *(x for x, _ in _paper_rates(v0, va))]
    return step_spike_times(lambda t, y, current: _paper_rhs(t, y, current, g, va), y0,
                            stimulus, amplitude)


# ----------------------------------------------------------------------------- the model

CASES = [  # gNa, gK, gA [mS/cm²], VA [mV], amplitude [µA/cm²]
    (120.0, 20.0, 0.0, 0.0, 10.0),
    (120.0, 20.0, 10.0, 0.0, 10.0),
    (120.0, 20.0, 20.0, 5.0, 20.0),
]
SPIKE_STIMULUS = Stimulus(60.0, 5.0, 55.0)


def test_the_file_model_is_not_registered_and_names_its_file():
    model = load_model_file(MODEL_FILE)
    assert model.name == "hh_a_current" and model.name not in MODELS
    assert get_model(MODEL_FILE) is model
    assert [c.name for c in model.channels] == ["Na", "K", "A"]
    table = _table(2, gA=15.0)
    assert list(table["model"]) == [MODEL_FILE] * 2 and list(table["gA"]) == [15.0, 15.0]


@pytest.mark.parametrize("g_na, g_k, g_a, va, amplitude", CASES)
def test_rest_and_spikes_match_the_papers_solved_by_scipy(g_na, g_k, g_a, va, amplitude):
    """Rest to 1e-9 mV; every spike of a 50 ms step within 0.02 ms (deterministic, dt
    0.005 ms); the A current delays the first spike (tested across the cases)."""
    names = ["gNa", "gK", "gA", "VA", "amplitude"]
    table = _table(1, [[g_na, g_k, g_a, va, amplitude]], names)
    g = (g_na, g_k, g_a)
    assert resting_potential(table)[0] == pytest.approx(_paper_rest(g, va), abs=1e-9)
    dt = 0.005
    out = langevin.simulate_deterministic(table, SPIKE_STIMULUS, dt, np.zeros(1, np.uint32))
    expected = _paper_spikes(g, va, amplitude, SPIKE_STIMULUS)
    spikes = peak_times(out.v[0].astype(np.float64), dt)
    print(g, va, amplitude, len(expected), "spikes, first", expected[0],
          "max |error| [ms]", np.abs(spikes - expected).max())
    assert len(expected) >= 3 and spikes.shape == expected.shape
    np.testing.assert_allclose(spikes, expected, atol=0.02, rtol=0)


def test_the_a_current_delays_the_first_spike():
    """Same step, gA 0 → 10 → 20 mS/cm²: the reference's first spike comes later each time
    (the A current's signature), and so does the library's."""
    names, stimulus = ["gA"], SPIKE_STIMULUS
    firsts = [_paper_spikes((120.0, 20.0, g_a), 0.0, 15.0, stimulus)[0] for g_a in (0, 10, 20)]
    table = _table(3, [[0.0], [10.0], [20.0]], names, amplitude=15.0)
    out = langevin.simulate_deterministic(table, stimulus, 0.005, np.zeros(3, np.uint32))
    ours = [peak_times(row.astype(float), 0.005)[0] for row in out.v]
    print("first spike [ms]", firsts, ours)
    assert firsts[0] < firsts[1] < firsts[2]
    np.testing.assert_allclose(ours, firsts, atol=0.02)


@pytest.mark.parametrize("method", ["markov", "binomial"])
def test_clamped_open_fractions_are_binomial(method):
    """Clamped at −40 mV every channel's open count is Binomial(N, p), p = m∞³h∞, n∞⁴,
    a∞³b∞ from the papers' rates: mean within 4 standard errors and 3 %, variance within
    25 % of p(1−p)/N; 200 simulations of 3 ms at 300 µm² (18 000 Na, 3000 K, 1500 A)."""
    simulate = {"markov": markov.simulate_markov, "binomial": markov.simulate_binomial}[method]
    n, clamp_mV = 200, -40.0
    table = _table(n, area=300.0)
    out = simulate(table, Stimulus(3.0, 1.0, 2.0), 0.01, np.arange(n, dtype=np.uint32),
                   clamp_mV=clamp_mV, record_open=True)
    (m, _), (h, _), (n_k, _), (a, _), (b, _) = _paper_rates(clamp_mV, 0.0)
    probabilities = {"Na": m**3 * h, "K": n_k**4, "A": a**3 * b}
    counts = load_model_file(MODEL_FILE).channel_counts(table)
    assert list(out.open) == list(probabilities)
    for (channel, fraction), n_c in zip(out.open.items(), counts, strict=True):
        p, x = probabilities[channel], fraction[:, -1].astype(float)
        se = np.sqrt(p * (1 - p) / n_c[0] / n)
        print(method, channel, n_c[0], "mean", x.mean(), "p", p)
        assert abs(x.mean() - p) < 4 * se and abs(x.mean() - p) < 0.03 * p + 4 * se
        assert x.var() == pytest.approx(p * (1 - p) / n_c[0], rel=0.25)


def test_compiled_rates_are_the_models_and_stay_in_numba_disk_cache(tmp_path):
    """A new numba cache filled by one process per model (each compiles its rates and
    kernels), then read by a process that runs them all: there every model's compiled
    rates equal its NumPy rates to 1e-12 (rates compiled in different processes must not
    share a symbol: that would give another rate's value) and nothing is compiled again."""
    script = textwrap.dedent("""
        import json, sys, numpy as np
        from mfnpe.hh import markov
        from mfnpe.hh.models import get_model
        from mfnpe.hh.model import constants_table
        from mfnpe.stimulus.step import Stimulus
        report = {"equal": True, "misses": 0}
        for reference in sys.argv[1:]:
            model = get_model(reference)
            kinetic = np.array([model.defaults[k] for k in model.kinetic], dtype=np.float64)
            compiled = markov.compiled_rates(model)
            for v in np.linspace(-100.0, 40.0, 15):
                ours = np.empty(len(compiled))
                markov._model_rates(compiled, v, kinetic, np.ones(len(compiled) // 2), ours)
                numpy = model.rate_vector(v, kinetic)
                report["equal"] &= bool(np.allclose(ours, numpy, rtol=1e-12, atol=0))
            field = "file" if reference.endswith(".py") else "name"
            table = constants_table({field: reference}, np.zeros((2, 0)))
            markov.simulate_binomial(table, Stimulus(1.0, 0.1, 0.9), 0.01,
                                     np.arange(2, dtype=np.uint32))
            report["misses"] += sum(f.stats.cache_misses.total() for f in compiled)
        report["misses"] += markov._simulate_batch.stats.cache_misses.total()
        print(json.dumps(report))
    """)
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}  # its own cache
    references = [*MODELS, MODEL_FILE]

    def run(*chosen):
        done = subprocess.run([sys.executable, "-c", script, *chosen], capture_output=True,
                              text=True, cwd=ROOT, check=True, env=environment)
        return json.loads(done.stdout.strip().splitlines()[-1])

    filling = [run(reference) for reference in references]  # (two models in one process
    # would name their closures apart by the process's own counter and hide a clash)
    reading = run(*references)
    print(filling, reading)
    assert all(report["equal"] for report in filling) and reading["equal"]
    assert all(report["misses"] > 0 for report in filling[1:]) and reading["misses"] == 0


@pytest.mark.parametrize("method", ["markov", "binomial"])
def test_a_negative_rate_invalidates_the_simulation_not_the_job(method):
    """A model whose β_a turns negative above 0 mV (an a∞ formula above 1, uncapped): a
    simulation that spikes is NaN from the step where V passed 0 mV on, one that stays
    below runs to the end, and nothing raises."""
    import dataclasses

    model = load_model_file(MODEL_FILE)

    def make_rates(xp, jit=None):
        rates = vars(model.make_rates(xp, jit)).copy()
        capped = rates["beta_a"]
        rates["beta_a"] = jit(lambda v, va: -1.0 if v > 0.0 else capped(v, va))
        return SimpleNamespace(**rates)

    broken = dataclasses.replace(model, name="hh_a_negative_rate", make_rates=make_rates)
    table = _table(2, [[20.0], [0.0]], ["amplitude"])
    simulate = {"markov": markov.simulate_markov, "binomial": markov.simulate_binomial}[method]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mfnpe.hh.markov.model_of", lambda constants: broken)
        out = simulate(table, Stimulus(30.0, 5.0, 25.0), 0.01, np.arange(2, dtype=np.uint32))
    spiking, quiet = out.v
    first_nan = np.flatnonzero(np.isnan(spiking))[0]
    assert np.nanmax(spiking) > -10.0 and np.isnan(spiking[first_nan:]).all()
    assert np.nanmax(spiking[:first_nan]) > 0.0  # it stopped where V passed 0 mV
    assert np.isfinite(quiet).all() and quiet.max() < 0.0


# ----------------------------------------------------------------------------- the config


def test_the_config_takes_the_file_model_and_its_constants():
    config = validate_config({"model": {"name": "pospischil_rs", "file": MODEL_FILE, "area": 500.0},
                              "prior": {"gA": [0.0, 30.0], "gNa": [80.0, 160.0]}},
                             CONFIG_SCHEMA)
    assert config["model"]["file"] == MODEL_FILE and "name" not in config["model"]
    assert config["model"]["area"] == 500.0 and config["model"]["EA"] == -80.0
    with pytest.raises(ConfigError, match="model/gM.*'hh_a_current'"):
        validate_config({"model": {"file": MODEL_FILE, "gM": 0.1}}, CONFIG_SCHEMA)
    with pytest.raises(ConfigError, match="prior/tau_max"):
        validate_config({"model": {"file": MODEL_FILE}, "prior": {"tau_max": [1.0, 2.0]}},
                        CONFIG_SCHEMA)


def test_a_bad_model_file_is_named_in_the_error(tmp_path):
    missing = tmp_path / "nowhere.py"
    with pytest.raises(ValueError, match=f"model file {missing}: not found"):
        load_model_file(missing)
    empty = tmp_path / "empty_model.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="empty_model.py: defines no MODEL"):
        load_model_file(empty)
    broken = tmp_path / "broken_model.py"
    broken.write_text("import no_such_module\n")
    with pytest.raises(ValueError, match="broken_model.py: importing it failed.*no_such_module"):
        load_model_file(broken)
    shadow = tmp_path / "shadow_model.py"
    shadow.write_text("import dataclasses\nfrom mfnpe.hh.models import MODELS\n"
                      "MODEL = dataclasses.replace(MODELS['pospischil_rs'])\n")
    with pytest.raises(ValueError, match="shadow_model.py: .*name of a shipped model"):
        load_model_file(shadow)
    # a file replaces a name (an overlay swapping a shipped model for a file)
    assert constants_table({"name": "pospischil_rs", "file": MODEL_FILE})["model"][0] == MODEL_FILE
    with pytest.raises(ConfigError, match="model/file.*nowhere.py"):
        validate_config({"model": {"file": str(missing)}}, CONFIG_SCHEMA)


def test_the_example_model_file_at_no_a_current_is_pospischil_rs():
    """resources/models/pospischil_rs_a.py (RS + A current): at gA = 0 its binomial traces
    equal pospischil_rs's bit for bit (same seeds; the A channel has no channels), and an
    A current delays the first spike of a 1 µA/cm² step (deterministic)."""
    example = "resources/models/pospischil_rs_a.py"
    stimulus, seeds = Stimulus(200.0, 20.0, 180.0), np.arange(4, dtype=np.uint32)
    fixed = {"amplitude": 1.0, "area": 2000.0}
    ours = markov.simulate_binomial(constants_table({"file": example, "gA": 0.0, **fixed}),
                                    stimulus, 0.01, seeds[:1])
    theirs = markov.simulate_binomial(constants_table({"name": "pospischil_rs", **fixed}),
                                      stimulus, 0.01, seeds[:1])
    np.testing.assert_array_equal(ours.v, theirs.v)
    table = constants_table({"file": example, **fixed}, np.array([[0.0], [0.2], [0.4]]), ["gA"])
    out = langevin.simulate_deterministic(table, stimulus, 0.025, seeds[:3])
    firsts = [peak_times(row.astype(float), 0.025)[0] for row in out.v]
    print("first spike [ms] at gA 0, 0.2, 0.4 mS/cm²", firsts)
    assert firsts[0] < firsts[1] < firsts[2]


def test_the_kd_shift_model_file_is_pospischil_rs_where_the_shifts_agree():
    """resources/models/pospischil_rs_vk.py (docs/results.md, "What the model reaches"): its
    Na and M rates are Pospischil RS's at VT, its Kd rates Pospischil RS's at VTK; with
    VTK = VT every rate is the shipped model's, bit for bit."""
    vk = load_model_file(Path(__file__).parents[1] / "resources/models/pospischil_rs_vk.py")
    rs = get_model("pospischil_rs")
    assert vk.kinetic == ("VT", "tau_max", "VTK") and vk.rate_names == rs.rate_names
    mine, shipped = vk.make_rates(np), rs.make_rates(np)
    v = np.linspace(-120.0, 60.0, 181)
    for name in rs.rate_names:
        same = getattr(mine, name)(v, -56.2, 608.0, -56.2)
        np.testing.assert_array_equal(same, getattr(shipped, name)(v, -56.2, 608.0))
        apart = getattr(mine, name)(v, -56.2, 608.0, -70.0)
        at = -70.0 if name.endswith("_n") else -56.2
        np.testing.assert_array_equal(apart, getattr(shipped, name)(v, at, 608.0))
