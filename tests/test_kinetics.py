"""HH kinetics: rate values, singularities, steady states and the Markov schemes."""

import numpy as np
import pytest

from mfnpe.hh import kinetics as k


def test_rates_at_their_removable_singularities_are_the_limits():
    # alpha_m(-40) = lim 0.1 x / (1 - exp(-x/10)) = 1; alpha_n(-55) = 0.1
    assert k.rates_np.alpha_m(-40.0) == pytest.approx(1.0, abs=1e-12)
    assert k.rates_np.alpha_n(-55.0) == pytest.approx(0.1, abs=1e-12)
    for v0, rate in ((-40.0, k.rates_np.alpha_m), (-55.0, k.rates_np.alpha_n)):
        near = np.array([v0 - 1e-4, v0 - 1e-7, v0, v0 + 1e-7, v0 + 1e-4])
        values = rate(near)
        assert np.all(np.isfinite(values))
        assert np.all(np.abs(np.diff(values)) < 1e-5)


def test_rates_match_the_classic_formulas_away_from_singularities():
    v = np.array([-80.0, -65.0, -20.0, 10.0])
    assert np.allclose(k.rates_np.alpha_m(v), 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10)))
    assert np.allclose(k.rates_np.alpha_n(v), 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10)))
    assert np.allclose(k.rates_np.beta_h(v), 1 / (1 + np.exp(-(v + 35) / 10)))


def test_steady_state_at_rest_matches_textbook_values():
    m, h, n = k.steady_state(-65.0)
    assert m == pytest.approx(0.0529, abs=1e-3)
    assert h == pytest.approx(0.5961, abs=1e-3)
    assert n == pytest.approx(0.3177, abs=1e-3)


def test_schemes_have_28_transitions_in_reversible_pairs():
    assert len(k.NA_TRANSITIONS) == 20 and len(k.K_TRANSITIONS) == 8
    for table in (k.NA_TRANSITIONS, k.K_TRANSITIONS):
        edges = {(int(a), int(b)) for a, b, _, _ in table}
        assert all((b, a) in edges for a, b in edges)


@pytest.mark.parametrize("v", [-80.0, -65.0, -30.0, 20.0])
def test_stationary_state_probabilities_satisfy_detailed_balance(v):
    rates = k.rate_vector(v)
    m, h, n = k.steady_state(v)
    for table, probs, open_state, open_prob in (
        (k.NA_TRANSITIONS, k.na_state_probs(v), k.NA_OPEN, m**3 * h),
        (k.K_TRANSITIONS, k.k_state_probs(v), k.K_OPEN, n**4),
    ):
        assert probs.sum() == pytest.approx(1.0)
        assert probs[open_state] == pytest.approx(open_prob)
        flux = {(a, b): probs[a] * mult * rates[rid] for a, b, rid, mult in table}
        for (a, b), forward in flux.items():
            assert forward == pytest.approx(flux[(b, a)], rel=1e-9)


def test_channel_counts_scale_with_conductance_and_area():
    assert k.channel_counts(120.0, 36.0, 100.0) == (6000, 1800)
    n_na, n_k = k.channel_counts(np.array([60.0, 120.0, 120.0]), np.array([18.0, 36.0, 36.0]),
                                 np.array([100.0, 100.0, 1000.0]))
    assert list(n_na) == [3000, 6000, 60000] and list(n_k) == [900, 1800, 18000]
    # 60 Na and 18 K channels per µm² at the default densities
    assert k.channel_counts(120.0, 36.0, 1.0) == (60, 18)


# ----------------------------------------------------------------------------- resting potential


def _scan_roots(gNa, gK, gL, EL, ENa=50.0, EK=-77.0):
    """Zero crossings of the steady-state current on a 0.01 mV grid, by linear interpolation
    (written here from the HH steady states, independently of mfnpe.hh.rest)."""
    v = np.linspace(-100.0, 60.0, 16001)
    m, h, n = k.steady_state(v)
    current = gNa * m**3 * h * (v - ENa) + gK * n**4 * (v - EK) + gL * (v - EL)
    i = np.flatnonzero(np.sign(current[:-1]) != np.sign(current[1:]))
    return v[i] - current[i] * (v[i + 1] - v[i]) / (current[i + 1] - current[i])


def test_resting_potential_is_the_lowest_root_of_the_steady_state_current():
    """Vectorised over simulations: the classic HH rest (−65.0 mV), a leaky and a
    K-poor neuron; an N-shaped I–V curve (three roots) gives its most hyperpolarised root;
    no conductance at all gives EL; a NaN constant gives NaN."""
    from mfnpe.hh.model import constants_table
    from mfnpe.hh.rest import resting_potential

    theta = np.array([[120.0, 36.0, 0.3, -54.4], [50.0, 100.0, 1.0, -54.4],
                      [200.0, 20.0, 0.1, -54.4], [300.0, 15.0, 0.5, -77.0],
                      [0.0, 0.0, 0.0, -60.0], [120.0, 36.0, np.nan, -54.4]])
    rest = resting_potential(constants_table({}, theta, ("gNa", "gK", "gL", "EL")))
    for row, value in zip(theta[:4], rest[:4]):
        roots = _scan_roots(*row)
        assert value == pytest.approx(roots[0], abs=1e-4), row
    assert len(_scan_roots(*theta[3])) == 3  # −76.96, −57.17, −35.41 mV
    assert rest[0] == pytest.approx(-65.0, abs=1e-3)
    assert rest[4] == -60.0 and np.isnan(rest[5])
