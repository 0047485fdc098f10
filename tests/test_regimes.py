"""Where the approximate simulators fail (mfnpe.simulation.regimes,
docs/method.md, "Where the approximate simulators fail"): the warnings over a config's prior from the measured
clamp-error table, and the table against a fresh measurement and binomial theory."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from mfnpe.hh import clamp_error_table
from mfnpe.simulation import regimes
from mfnpe.hh.models import MODELS

ROOT = Path(__file__).resolve().parents[1]
CLASSIC_PRIOR = {"gNa": [50.0, 200.0], "gK": [20.0, 100.0], "gL": [0.1, 1.0]}


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def _tool():
    spec = importlib.util.spec_from_file_location("lf_channel_error",
                                                  ROOT / "tools" / "lf_channel_error.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(simulator, model, channel, label, count):
    (row,) = [r for r in clamp_error_table.ROWS if r[:4] == (simulator, model, channel, label)
              and r[5] == count]
    return row


def _share(message: str) -> float:
    return float(re.search(r"in (\d+)% of its draws", message).group(1)) / 100


# ----------------------------------------------------------------------------- the warnings


def test_cortical_lf_is_warned_of_its_few_m_channels():
    """config/cortical.yaml's LF (subunit_langevin, RS, area 100–1000 µm², gM from 0.0001):
    one warning, the M channel's, with the measured error at 4 channels and the share of
    the prior's draws (19% with the stored table; its count range reaches 0–300)."""
    cortical = _config("cortical.yaml")
    lf = cortical["simulators"]["lf"]
    assert lf["name"] == "subunit_langevin" and cortical["model"]["name"] == "pospischil_rs"
    (message,) = regimes.clamp_error_warnings(lf["name"], cortical["model"], cortical["prior"],
                                              lf["dt"])
    assert message.startswith("simulator subunit_langevin, M channel: ")
    ratio = _entry("subunit_langevin", "pospischil_rs", "M", "rest", 4)[7]
    assert f"×{ratio:.2f} (rest, -71.91 mV)" in message and ratio > 2.5
    assert "the prior reaches 0–300 M channels (gM 0.0001–0.6 mS/cm², area 100–1000 µm²)" in message
    assert 0.1 <= _share(message) <= 0.3
    config = {"simulators": cortical["simulators"], "model": cortical["model"],
              "prior": cortical["prior"]}
    (warned,) = regimes.config_warnings(config)  # markov, the HF model, is exact
    assert warned == f"simulators/lf: {message}; {regimes.CONSEQUENCE['lf']}"


def test_default_rs_neuron_at_100_um2_is_warned_for_every_draw():
    """The paper's RS cell at 100 µm² has 4 M channels: ×3 at rest, every draw affected;
    at 1000 µm² (38) still ×1.2; at 10 000 µm² (375) no warning."""
    (message,) = regimes.clamp_error_warnings("subunit_langevin", {"name": "pospischil_rs"}, {})
    assert "with 4 channels" in message and "in 100% of its draws (4 M channels)" in message
    (message,) = regimes.clamp_error_warnings("subunit_langevin",
                                              {"name": "pospischil_rs", "area": 1000.0}, {})
    assert "with 38 channels" in message and "×1.2" in message
    assert regimes.clamp_error_warnings("subunit_langevin",
                                        {"name": "pospischil_rs", "area": 10_000.0}, {}) == []


def test_no_warning_where_the_counts_are_large():
    """config/recording_171116sh_0019.yaml (3000–50 000 µm²): no clamp-error warning for either LF model;
    the classic neuron's default prior at 100 µm² (2500+ Na, 1000+ K channels) none for
    subunit_langevin, and at 1000 µm² none for edge_langevin either."""
    recording = _config("recording_171116sh_0019.yaml")
    for simulator in ("subunit_langevin", "edge_langevin"):
        assert regimes.clamp_error_warnings(simulator, recording["model"], recording["prior"],
                                            0.025) == []
        assert regimes.clamp_error_warnings(simulator, {"area": 1000.0}, CLASSIC_PRIOR) == []
    assert regimes.clamp_error_warnings("subunit_langevin", {"area": 100.0}, CLASSIC_PRIOR) == []


def test_exact_and_noiseless_simulators_are_not_warned():
    """markov and binomial are exact under a clamp; deterministic and current_noise have the
    exact mean (measured: within 2e-6) and no channel noise."""
    cortical = _config("cortical.yaml")
    for simulator in ("markov", "binomial", "deterministic", "current_noise"):
        assert regimes.clamp_error_warnings(simulator, {"name": "pospischil_rs", "area": 4.0},
                                            cortical["prior"]) == []
    noiseless = [r for r in clamp_error_table.ROWS if r[0] in regimes.NOISELESS]
    assert noiseless and max(abs(r[7] - 1.0) for r in noiseless) < 1e-5


def test_edge_langevin_on_the_rs_neuron_is_warned_per_channel():
    """edge_langevin's clipping opens the all-but-closed Pospischil Na and Kd channels at rest
    (×10⁴–10⁶) enough to matter (≥ 1% of the membrane conductance), and biases M."""
    messages = regimes.clamp_error_warnings("edge_langevin", {"name": "pospischil_rs"}, {})
    assert [m.split(":")[0] for m in messages] == [f"simulator edge_langevin, {c} channel"
                                                   for c in ("Na", "Kd", "M")]


def test_every_registered_model_and_approximate_simulator_is_measured():
    """The table covers every model, every approximate simulator and every channel at each
    count; a model it lacks is warned about for the noisy simulators."""
    measured = {(r[0], r[1], r[2]) for r in clamp_error_table.ROWS}
    for model in MODELS.values():
        for simulator in ("deterministic", "current_noise", "subunit_langevin", "edge_langevin"):
            for channel in model.channels:
                assert (simulator, model.name, channel.name) in measured
    counts = {r[5] for r in clamp_error_table.ROWS}
    assert sorted(counts) == list(clamp_error_table.COUNTS)


def test_an_unmeasured_model_is_named(monkeypatch):
    monkeypatch.setattr(clamp_error_table, "ROWS", ())
    (message,) = regimes.clamp_error_warnings("subunit_langevin", {"name": "pospischil_rs"}, {})
    assert "not measured for model pospischil_rs" in message
    assert regimes.clamp_error_warnings("deterministic", {"name": "pospischil_rs"}, {}) == []


def test_measured_ratio_interpolates_and_extrapolates():
    counts, ratios = np.array([4.0, 10.0, 100.0]), np.array([3.0, 2.0, 1.1])
    found = regimes.measured_ratio(counts, ratios, np.array([0, 4, 10, 1000]))
    assert found[:3] == pytest.approx([3.0, 3.0, 2.0])
    assert found[3] == pytest.approx(1.01)  # the error falls as 1/N beyond the table


def test_docs_table_is_the_stored_one():
    """docs/method.md's table between the clamp-error markers is the tool's rendering of
    the stored table (``tools/lf_channel_error.py --docs-only`` rewrites it)."""
    text = (ROOT / "docs" / "method.md").read_text()
    tool = _tool()
    start, end = tool.MARKERS
    assert text.count(start) == 1 and text.count(end) == 1
    block = text.split(start)[1].split(end)[0].strip()
    assert block == tool.markdown(list(clamp_error_table.ROWS), clamp_error_table.MEASURED)


# ----------------------------------------------------------------------------- the measurement


def test_small_count_bias_is_reproduced():
    """A fresh measurement (other seeds) of the issue's case: subunit_langevin, RS at rest,
    4 M channels, mean open fraction ×3 the binomial p; and of the classic Na channel at
    100 channels (×1.55). Each within 4 combined standard errors of the stored entry."""
    tool = _tool()
    for model, channel, count, runs in (("pospischil_rs", "M", 4, (64, 2800.0, 800.0)),
                                        ("classic", "Na", 100, (32, 300.0, 50.0))):
        v = tool.voltages(model)["rest"]
        stored = _entry("subunit_langevin", model, channel, "rest", count)
        (found,) = tool.measure("subunit_langevin", model, v, (count,), runs,
                                seed=777)[channel]
        print(model, channel, count, found, stored)
        assert found["p"] == pytest.approx(stored[6], rel=1e-5)
        assert abs(found["ratio"] - stored[7]) < 4 * np.hypot(found["se"], stored[8])
        assert found["ratio"] > 1.4


def test_large_count_matches_binomial_theory():
    """At 10 000 channels the classic neuron's subunit_langevin and edge_langevin K open
    fractions at rest have the binomial mean to 1%, and edge_langevin's SD is the binomial
    √(p(1−p)/N) to 5% (subunit_langevin's is not: ×0.6)."""
    tool = _tool()
    v = tool.voltages("classic")["rest"]
    for simulator, sd_ratio in (("subunit_langevin", 0.6), ("edge_langevin", 1.0)):
        (found,) = tool.measure(simulator, "classic", v, (10_000,), (32, 300.0, 50.0),
                                seed=99)["K"]
        print(simulator, found)
        assert found["ratio"] == pytest.approx(1.0, abs=0.01)
        assert found["sd_ratio"] == pytest.approx(sd_ratio, rel=0.05)
