"""End to end: the tiny config through Snakemake, then the shards' contents."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from mfnpe.plan import observations, runs, shards
from mfnpe.plan.config import load_config
from mfnpe.evaluation.test_set import read_evaluation
from mfnpe.inference import ModelError, Posterior
from mfnpe.io.hdf5 import canonical
from mfnpe.io.shards import read_prior_shard, read_sim_shard
from mfnpe.observation.posterior import read_observation, read_predictive
from mfnpe.seeds import simulation_seeds
from mfnpe.simulation.shard import simulate_shard
from mfnpe.recordings.step import read_recording

from workflow_helpers import CONFIG_SCHEMA, ROOT, TINY, snakemake


@pytest.fixture(scope="module")
def config():
    return load_config(TINY, CONFIG_SCHEMA)


def test_every_shard_has_the_expected_contents(tiny_run, config):
    for pool in shards.POOLS:
        size = config["shards"][pool]
        for k in range(shards.n_shards(config, pool)):
            shard = read_sim_shard(tiny_run / f"results/sims/{pool}/shard-{k}.h5",
                                   expected_settings=shards.shard_settings(config, pool, k))
            assert shard.theta.shape == (size, 3) and shard.x.shape == (size, len(config["features"]))
            assert shard.param_names == ["gNa", "gK", "gL"]
            assert shard.feature_names == config["features"]
            assert np.isfinite(shard.x[shard.valid]).all()
            assert shard.valid.mean() > 0.9
            lows, highs = np.array(list(config["prior"].values())).T
            assert ((shard.theta >= lows) & (shard.theta <= highs)).all()
            theta, _, _ = read_prior_shard(tiny_run / f"results/prior/{pool}/shard-{k}.h5")
            assert np.array_equal(theta, shard.theta)
            if pool == "test":
                assert shard.traces.shape == (size, int(config["stimulus"]["duration"] / 0.1))
                assert shard.trace_dt == 0.1
            else:
                assert shard.traces is None
            assert (tiny_run / f"results/logs/simulate/{pool}/shard-{k}.log").read_text()
            assert (tiny_run / f"results/benchmarks/simulate/{pool}/shard-{k}.tsv").exists()
    # the pools hold different parameters: independent streams
    hf0 = read_sim_shard(tiny_run / "results/sims/hf/shard-0.h5").theta
    test0 = read_sim_shard(tiny_run / "results/sims/test/shard-0.h5").theta
    assert not np.isin(hf0[:, 0], test0[:, 0]).any()


def test_shards_do_not_depend_on_jobs_or_threads(tiny_run, config):
    """Re-simulate shards in this process with 2 threads: identical to the 2-job workflow run,
    settings (provenance) included."""
    for pool, k in (("lf", 1), ("hf", 1)):
        stored = read_sim_shard(tiny_run / f"results/sims/{pool}/shard-{k}.h5")
        sim_seeds = simulation_seeds(config["seed"], pool, k, len(stored.theta))
        again = simulate_shard(stored.theta, stored.param_names,
                               shards.experiment_simulation(config, pool), sim_seeds, threads=2,
                               provenance=shards.prior_settings(config, pool, k))
        assert canonical(again.settings) == canonical(stored.settings)
        assert canonical(again.settings) == canonical(shards.shard_settings(config, pool, k))
        assert np.array_equal(again.x, stored.x, equal_nan=True)
        assert np.array_equal(again.valid, stored.valid)


def test_a_complete_run_has_nothing_left_to_do(tiny_run):
    run = snakemake(tiny_run, "-n", "--cores", "1")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_every_model_is_trained_saved_and_evaluated(tiny_run, config):
    all_runs = runs.runs(config)
    assert len(all_runs) == 2 * (1 + 2 + 2)  # seeds x (lf_npe + mf_npe, npe per HF budget)
    n_test = config["budgets"]["n_test"]
    samples = config["evaluation"]["posterior_samples"]
    for run in all_runs:
        name = runs.run_name(run["n_lf"], run["n_hf"], run["seed"])
        model_path = tiny_run / f"results/models/{run['method']}/{name}.pt"
        content = torch.load(model_path, weights_only=True)
        assert content["param_names"] == ["gNa", "gK", "gL"]
        assert content["network"]["hidden_features"] == 20
        model = Posterior.load(model_path, runs.model_settings(config, **run))
        assert model.feature_names == config["features"]
        evaluation = read_evaluation(tiny_run / f"results/eval/{run['method']}/{name}.h5")
        assert evaluation.run == run
        m = len(evaluation.log_prob)
        assert n_test - 2 <= m <= n_test  # at most a couple of invalid test simulations
        assert evaluation.theta.shape == evaluation.post_mean.shape == (m, 3)
        assert evaluation.ranks.min() >= 0 and evaluation.ranks.max() <= samples
        assert evaluation.samples.shape == (config["evaluation"]["pairplot_observations"], samples, 3)
        assert all(np.isfinite(v) for v in evaluation.metrics.values())
        assert evaluation.tarp_coverage.shape == (m,)
        assert ((evaluation.tarp_coverage >= 0) & (evaluation.tarp_coverage <= 1)).all()
        assert 0 <= evaluation.metrics["tarp_p"] <= 1
        assert evaluation.metrics["calibration_pass"] in (0.0, 1.0)
        lows, highs = np.array(list(config["prior"].values())).T
        assert ((evaluation.samples >= lows) & (evaluation.samples <= highs)).all()
    train_log = (tiny_run / "results/logs/finetune/nlf-400_nhf-20_seed-0.log").read_text()
    assert "epoch    0" in train_log and "validation loss" in train_log


def test_summary_tables_are_complete_and_finite(tiny_run, config):
    metrics = pd.read_csv(tiny_run / "results/summary/metrics.csv")
    assert list(metrics.columns) == ["method", "n_lf", "n_hf", "seed", "metric", "value"]
    assert set(metrics["metric"]) >= {"nltp", "nltp_low", "nltp_high", "nrmse", "contraction",
                                      "sbc_ks_max", "sbc_p_min", "nrmse_gNa", "sbc_p_gL",
                                      "tarp_atc", "tarp_p", "calibration_pass"}
    assert np.isfinite(metrics["value"]).all()
    assert len(metrics.groupby(["method", "n_lf", "n_hf", "seed"])) == len(runs.runs(config))
    table = pd.read_csv(tiny_run / "results/summary/table.csv")
    assert (table["n_seeds"] == 2).all()
    p_value = table["metric"].str.startswith(("sbc_p_", "tarp_p"))
    assert np.isfinite(table["mean"]).all()
    assert table.loc[p_value, ["ci_low", "ci_high"]].isna().all().all()  # no t interval
    with_interval = table[~p_value]
    assert np.isfinite(with_interval[["ci_low", "ci_high"]]).all().all()
    assert (with_interval["ci_low"] <= with_interval["mean"]).all()
    assert (with_interval["mean"] <= with_interval["ci_high"]).all()
    passes = table[table["metric"] == "calibration_pass"]
    assert len(passes) == len(runs.runs(config)) // 2
    assert passes[["mean", "ci_low", "ci_high"]].stack().between(0, 1).all()
    calibration = pd.read_csv(tiny_run / "results/summary/calibration.csv")
    assert list(calibration.columns) == ["method", "n_lf", "n_hf", "n_seeds", "n_pass",
                                         "sbc_p_min", "tarp_atc", "tarp_p", "verdict"]
    assert len(calibration) == len(runs.runs(config)) // 2 and (calibration["n_seeds"] == 2).all()
    for n_pass, verdict in zip(calibration["n_pass"], calibration["verdict"]):
        failing = f"fail ({2 - n_pass}/2 seeds: "
        assert verdict == "pass" if n_pass == 2 else verdict.startswith(failing)
    assert "Calibration (SBC and TARP" in (tiny_run / "results/logs/aggregate.log").read_text()
    saving = pd.read_csv(tiny_run / "results/summary/saving.csv")
    assert len(saving) == 2 * 2  # (n_hf, seed) of MF-NPE
    assert (saving["saving"] > 0).all() and set(saving["bound"]) <= {"exact", "lower", "upper"}
    assert np.allclose(saving["saving"], saving["npe_budget"] / saving["n_hf"])
    cost = pd.read_csv(tiny_run / "results/summary/cost.csv")
    assert set(cost["method"]) == {"npe", "mf_npe"} and (cost["seconds"] > 0).all()
    mf_stages = set(cost.loc[cost["method"] == "mf_npe", "stage"])
    assert mf_stages == {"LF simulation", "pretraining", "HF simulation", "fine-tuning"}


def test_figures_are_written_and_nothing_outside_results(tiny_run, config):
    stems = ["nltp_vs_budget", "traces_lf_hf", "cost", "pairplot_obs-0", "pairplot_obs-1",
             "calibration_nhf-20", "calibration_nhf-40"]
    for stem in stems:
        for ext in ("png", "svg"):
            assert (tiny_run / f"results/figures/{stem}.{ext}").stat().st_size > 1000
    written = {path.name for path in tiny_run.iterdir()}
    assert written <= {"results", ".snakemake"}, written  # no sbi-logs or stray files
    assert not (ROOT / "sbi-logs").exists()


def test_a_model_from_another_config_or_truncated_is_refused(tiny_run, config, tmp_path):
    path = tiny_run / "results/models/npe/nlf-0_nhf-20_seed-0.pt"
    other = {**config, "budgets": {**config["budgets"], "n_hf": [30, 40]}}
    with pytest.raises(ModelError, match=f"{path}.*data/n is 20 in the file but 30"):
        Posterior.load(path, runs.model_settings(other, "npe", 0, 30, 0))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelError, match=f"{truncated}: not a readable model file"):
        Posterior.load(truncated)


def test_every_example_recording_is_observed_checked_and_plotted(tiny_run, config):
    examples = config["observations"]["examples"]
    assert observations.ppc_runs(config)[0] == dict(method="mf_npe", n_lf=400, n_hf=40, seed=0)
    all_runs = runs.runs(config)
    lows, highs = np.array(list(config["prior"].values())).T
    xs = {}
    for name, example in examples.items():
        recording = read_recording(tiny_run / f"results/recordings/{name}.{example['format']}",
                                   observations.protocol(config))
        assert recording.true_theta == example["theta"] and len(recording.voltage) == 6000
        result = read_observation(tiny_run / f"results/observations/{name}/posterior.h5",
                                  observations.observe_settings(config))
        assert result.runs == all_runs
        assert np.array_equal(result.theta_true, list(example["theta"].values()))
        assert result.samples.shape == (len(all_runs), config["evaluation"]["posterior_samples"], 3)
        assert ((result.samples >= lows) & (result.samples <= highs)).all()
        assert np.isfinite(result.log_prob_true).all() and np.isfinite(result.x).all()
        assert ((result.hpd_level >= 0) & (result.hpd_level <= 1)).all()
        assert result.map_theta.shape == (len(all_runs), 3)
        xs[name] = result.x
        check = read_predictive(tiny_run / f"results/observations/{name}/ppc.h5",
                                observations.predictive_settings(config))
        assert np.array_equal(check.x, result.x) and set(check.sets) == {"mf_npe", "npe"}
        for found in check.sets.values():
            assert found.x.shape == (config["observations"]["ppc_simulations"],
                                     len(config["features"]))
            assert found.traces.shape == (config["observations"]["ppc_traces"], 600)
            assert found.valid.mean() > 0.8
        for figure in ("pairplot", "ppc"):
            for ext in ("png", "svg"):
                path = tiny_run / f"results/figures/observations/{name}_{figure}.{ext}"
                assert path.stat().st_size > 1000
    table = pd.read_csv(tiny_run / "results/summary/observations.csv")
    assert len(table) == len(examples) * len(all_runs)
    assert set(table["recording"]) == set(examples)
    fit_columns = [name for name in table if name.startswith(("fit_", "recorded_"))]
    numeric = table.drop(columns=["recording", "method", *fit_columns]).astype(float)
    assert np.isfinite(numeric.to_numpy()).all()
    assert set(table["inside_95"]) <= {True, False}
    # the measure of fit (under the step: no @sweep): the predictive-check models' rows
    fitted = table.dropna(subset=["fit_spikes_worst"])
    assert sorted(fitted["method"]) == sorted(["mf_npe", "npe"] * len(examples))
    for name in ("fit_spikes", "fit_all", "fit_blocked", "fit_prestim", "fit_invalid",
                 "fit_map_spikes", "fit_map_all", "fit_spikes_worst", "recorded_blocked"):
        assert fitted[name].notna().all() and fitted[name].between(0, 1).all(), name
    assert (fitted["fit_n"] == config["observations"]["ppc_simulations"]).all()
    assert np.array_equal(table["recorded_spikes"], table["recording"].map(
        {name: x[0] for name, x in xs.items()}))
    assert np.allclose(table["true_gNa"], table["recording"].map(
        {name: example["theta"]["gNa"] for name, example in examples.items()}))
    # the misspecification verdict: one per recording, repeated over its models, ranked among
    # the LF pool's 400 simulations (the default reference: p down to 1/401 < alpha = 0.01);
    # the examples are HF simulations of the model at known theta: not flagged
    verdicts = table.groupby("recording")[["misspecification_score", "misspecification_p",
                                           "misspecification_flagged"]].nunique()
    assert (verdicts == 1).all().all()
    assert ((table["misspecification_p"] >= 1 / 401) & (table["misspecification_p"] <= 1)).all()
    assert (table["misspecification_score"] > 0).all()
    assert not table["misspecification_flagged"].any()
    for name in examples:
        with h5py.File(tiny_run / f"results/observations/{name}/misspecification.h5") as handle:
            assert handle.attrs["n_reference"] + handle.attrs["n_dropped"] == 400
