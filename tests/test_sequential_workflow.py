"""Sequential inference through Snakemake: the tiny run plus tests/configs/tiny_sequential.yaml
(every method on one recording: 1 LF-TSNPE round of 200 LF simulations, 2 rounds of 30 HF
simulations in shards of 20 and 10, the MF ones from LF-TSNPE's network), then
its files, a partial re-run when the rounds grow, and the default config keeping it off."""

import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from mfnpe.plan import sequential as sequential_runs
from mfnpe.plan.config import load_config
from mfnpe.inference import Posterior
from mfnpe.io.shards import read_prior_shard, read_sim_shard
from mfnpe.observation.posterior import read_observation

from workflow_helpers import CONFIG_SCHEMA, ROOT, TINY, scheduled_jobs, snakemake

OVERLAY = ROOT / "tests" / "configs" / "tiny_sequential.yaml"
pytestmark = pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")


def merged_config(*paths):
    config = {}
    for path in paths:
        for key, value in yaml.safe_load(path.read_text()).items():
            config[key] = value
    return config


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "merged.yaml"
    path.write_text(yaml.safe_dump(merged_config(TINY, OVERLAY), sort_keys=False))
    return load_config(path, CONFIG_SCHEMA)


@pytest.fixture(scope="module")
def sequential_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run, with the sequential overlay run on top of it."""
    workdir = tmp_path_factory.mktemp("sequential") / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    plan = snakemake(workdir, "-n", configfile=[TINY, OVERLAY])
    assert plan.returncode == 0, plan.stderr[-3000:]
    run = snakemake(workdir, "--cores", "2", configfile=[TINY, OVERLAY])
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir, scheduled_jobs(plan.stdout)


def test_only_the_sequential_jobs_run_on_top_of_a_finished_run(sequential_run):
    _, jobs = sequential_run
    # 1 recording (of 2) x 3 HF methods x 2 rounds, 2 shards per round, 1 + 1 + 2 members;
    # LF-TSNPE: 1 round of 1 shard, 1 member; the recording's predictive check again, with
    # the chains' final rounds, and what reads it
    assert jobs == {"sequential_proposal": 6, "sequential_lf_proposal": 1,
                    "sequential_simulate": 13, "sequential_train": 9,
                    "sequential_observe": 1, "figure_sequential": 1, "sequential_summary": 1,
                    "predictive_check": 1, "figure_observation_ppc": 1,
                    "observation_summary": 1, "report_page": 1, "figure_nltp": 1, "all": 1}


def test_every_round_simulates_its_proposal_inside_the_truncated_prior(sequential_run, config):
    workdir, _ = sequential_run
    section = config["sequential"]
    lows, highs = np.array(list(config["prior"].values())).T
    for chain in sequential_runs.chains(config, config["sequential"]["recordings"]):
        settings = sequential_runs.chain_settings(config, **chain)
        folder = workdir / "results/sequential/{recording}/{method}/seed-{seed}".format(**chain)
        method = chain["method"]
        sizes = {"lf_tsnpe": (200,)}.get(method, (20, 10))
        for round_ in range(1, sequential_runs.rounds(config, method) + 1):
            theta = []
            for shard, size in enumerate(sizes):
                proposal = folder / f"round-{round_}/theta/shard-{shard}.h5"
                drawn, _, _ = read_prior_shard(
                    proposal, sequential_runs.proposal_settings(settings, round_, shard))
                sims = read_sim_shard(folder / f"round-{round_}/sims/shard-{shard}.h5",
                                      sequential_runs.shard_settings(settings, round_, shard))
                assert drawn.shape == (size, 3) and np.array_equal(sims.theta, drawn)
                assert sims.valid.mean() > 0.8
                theta.append(drawn)
            theta = np.concatenate(theta)
            assert ((theta >= lows) & (theta <= highs)).all()
            stats = _proposal_stats(folder / f"round-{round_}/theta/shard-0.h5")
            # TSNPE's first round is the prior; every other round a truncated prior (to
            # the tiny networks' 70% region: well inside the box)
            if round_ == 1 and chain["method"] == "tsnpe":
                assert stats["acceptance_rate"] == 1.0
            else:
                assert stats["acceptance_rate"] < 0.9, (chain, round_, stats)
            acquired = sum(_proposal_stats(folder / f"round-{round_}/theta/shard-{k}.h5")
                           ["acquired"].count(1) for k in range(len(sizes)))
            expected = (round(section["acquisition_fraction"] * 30)
                        if chain["method"] == "a_mf_tsnpe" and round_ == 2 else 0)
            assert acquired == expected, (chain, round_)
            for member in range(sequential_runs.members(config, chain["method"])):
                model = Posterior.load(folder / f"round-{round_}/member-{member}.pt",
                                       sequential_runs.member_settings(settings, round_, member))
                assert model.feature_names == config["features"]


def _proposal_stats(path):
    with h5py.File(path, "r") as handle:
        return json.loads(handle.attrs["stats"])


def test_posteriors_tables_and_figures_of_every_recording(sequential_run, config):
    workdir, _ = sequential_run
    examples = {name: config["observations"]["examples"][name]
                for name in config["sequential"]["recordings"]}
    lows, highs = np.array(list(config["prior"].values())).T
    for name, example in examples.items():
        result = read_observation(workdir / f"results/observations/{name}/sequential.h5",
                                  sequential_runs.observe_settings(config, name))
        assert [(run["method"], run["n_hf"]) for run in result.runs] == [
            (method, n) for method in ("tsnpe", "mf_tsnpe", "a_mf_tsnpe") for n in (30, 60)
        ] + [("lf_tsnpe", 0)]
        # the MF chains start from LF-TSNPE: 400 pretraining + 200 LF-round simulations
        assert [run["n_lf"] for run in result.runs] == [0, 0, 600, 600, 600, 600, 600]
        assert np.array_equal(result.theta_true, list(example["theta"].values()))
        assert ((result.samples >= lows) & (result.samples <= highs)).all()
        assert np.isfinite(result.log_prob_true).all()
        for ext in ("png", "svg"):
            assert (workdir / f"results/figures/observations/{name}_sequential.{ext}"
                    ).stat().st_size > 1000
    table = pd.read_csv(workdir / "results/summary/sequential.csv")
    sequential = table[table["method"].isin(sequential_runs.METHODS)]
    assert len(sequential) == len(examples) * 7
    amortized = table[~table["method"].isin(sequential_runs.METHODS)]
    assert set(amortized["method"]) == {"mf_npe", "npe"} and set(amortized["seed"]) == {0}
    assert np.allclose(table["nltp_true"], -table["log_prob_true"])
    over = pd.read_csv(workdir / "results/summary/sequential_over_seeds.csv")
    assert (over["n_seeds"] == 1).all()  # one seed: its values, no interval
    averaged = over[over["metric"] == "nltp_true:mean"].set_index(["method", "n_hf"])["mean"]
    expected = table.groupby(["method", "n_hf"])["nltp_true"].mean()
    np.testing.assert_allclose(averaged.loc[expected.index], expected)
    assert set(over["metric"]) == {"nltp_true:mean", *(f"nltp_true:{n}" for n in examples)}
    c2st = pd.read_csv(workdir / "results/summary/sequential_c2st.csv")
    # at the final budget (60) no amortized model exists: the 6 pairs of the 4 methods'
    # last rounds (LF-TSNPE's too)
    assert len(c2st) == len(examples) * 6 and (c2st["n_hf"] == 60).all()
    assert c2st["c2st"].between(0.3, 1.0).all()
    svg = (workdir / "results/figures/nltp_vs_budget.svg").read_text()
    for method in ("tsnpe", "mf_tsnpe", "a_mf_tsnpe"):  # LF-TSNPE has no HF budget
        assert f"line:recordings:{method}" in svg


def test_the_chains_final_rounds_join_the_predictive_check_and_its_table(sequential_run,
                                                                         config):
    """The recording with chains has its HF predictive simulations and measure of fit for
    every chain's last round (seed 0) beside MF-NPE and NPE, in ppc.h5 and
    observations.csv; the other recording only the amortized ones."""
    workdir, _ = sequential_run
    table = pd.read_csv(workdir / "results/summary/observations.csv")
    with_fit = table.dropna(subset=["fit_spikes_worst"])
    by_recording = with_fit.groupby("recording")["method"].apply(set).to_dict()
    assert by_recording == {"tiny-1": {"mf_npe", "npe"},
                            "tiny-2": {"mf_npe", "npe", *sequential_runs.METHODS}}
    final = with_fit[with_fit["method"].isin(sequential_runs.METHODS)]
    assert sorted(zip(final["method"], final["n_lf"], final["n_hf"])) == sorted(
        (run["method"], run["n_lf"], run["n_hf"])
        for run in sequential_runs.final_runs(config, "tiny-2"))
    assert (final["fit_n"] == config["observations"]["ppc_simulations"]).all()
    assert final["fit_spikes_worst"].between(0, 1).all()


def test_more_rounds_rerun_only_the_new_round(sequential_run, config, tmp_path):
    workdir, _ = sequential_run
    more = tmp_path / "more_rounds.yaml"
    more.write_text(yaml.safe_dump({"sequential": {**merged_config(OVERLAY)["sequential"],
                                                   "rounds": 3}}, sort_keys=False))
    plan = snakemake(workdir, "-n", configfile=[TINY, more])
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = scheduled_jobs(plan.stdout)
    assert jobs == {"sequential_proposal": 3, "sequential_simulate": 6, "sequential_train": 4,
                    "sequential_observe": 1, "figure_sequential": 1, "sequential_summary": 1,
                    "predictive_check": 1, "figure_observation_ppc": 1,
                    "observation_summary": 1, "report_page": 1, "figure_nltp": 1, "all": 1}, jobs


@pytest.mark.workflow
def test_the_default_config_runs_no_sequential_job(tmp_path):
    shutil.copytree(ROOT / "resources", tmp_path / "resources")  # observations.dir
    plan = snakemake(tmp_path, "-n", "--forceall",
                     configfile=ROOT / "config" / "config.yaml")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = scheduled_jobs(plan.stdout)
    assert jobs and not any(rule.startswith("sequential") for rule in jobs), jobs


@pytest.mark.workflow
def test_an_unknown_sequential_recording_stops_the_run_before_any_job(tmp_path):
    overlay = tmp_path / "unknown.yaml"
    overlay.write_text(yaml.safe_dump({"sequential": {"methods": ["tsnpe"],
                                                      "recordings": ["tiny-3"]}}))
    plan = snakemake(tmp_path, "-n", configfile=[TINY, overlay])
    assert plan.returncode != 0
    output = plan.stdout + plan.stderr
    assert ("config key sequential/recordings: no recording named ['tiny-3']; the recordings "
            "are ['tiny-1', 'tiny-2']") in output, output[-3000:]
