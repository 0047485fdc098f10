# Validation and helpers only; stage files hold rules.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from mfnpe.plan.config import validate_config
from mfnpe.plan import runs as model_runs
from mfnpe.plan import shards

validate_config(config)


wildcard_constraints:
    pool="|".join(shards.POOLS),
    shard=r"\d+",
    method="|".join(model_runs.METHODS),
    run=model_runs.RUN_PATTERN,
    n_lf=r"\d+",
    n_hf=r"\d+",
    seed=r"\d+",


SIM_SHARD = "results/sims/{pool}/shard-{shard}.h5"
PRIOR_SHARD = "results/prior/{pool}/shard-{shard}.h5"
MODEL = "results/models/{method}/{run}.pt"
EVALUATION = "results/eval/{method}/{run}.h5"
FIGURES = "results/figures"
SUMMARY = "results/summary"


def all_sim_shards():
    """Every simulation shard of every pool."""
    return [
        path
        for pool in shards.POOLS
        for path in shards.shard_paths(config, pool, SIM_SHARD)
    ]


def all_runs():
    """Every model run of the config (dicts: method, n_lf, n_hf, seed)."""
    return model_runs.runs(config)


def run_path(pattern, run):
    """``pattern`` (MODEL, EVALUATION...) formatted for one run."""
    name = model_runs.run_name(run["n_lf"], run["n_hf"], run["seed"])
    return pattern.format(method=run["method"], run=name)


def all_evaluations():
    return [run_path(EVALUATION, run) for run in all_runs()]


def figure_paths():
    """Every figure, PNG and SVG."""
    stems = ["nltp_vs_budget", "traces_lf_hf", "cost"]
    stems += [
        f"pairplot_obs-{k}"
        for k in range(config["evaluation"]["pairplot_observations"])
    ]
    stems += [f"calibration_nhf-{n}" for n in model_runs.calibration_budgets(config)]
    return [f"{FIGURES}/{stem}.{ext}" for stem in stems for ext in ("png", "svg")]


def all_outputs():
    """Targets of the default target: shards, models, evaluations, summary tables and figures."""
    tables = ["metrics", "table", "saving", "saving_over_seeds", "calibration"]
    tables += ["cost", "cost_to_nltp"]
    summaries = [f"{SUMMARY}/{name}.csv" for name in tables]
    return all_sim_shards() + all_evaluations() + summaries + figure_paths()


def wildcard_run(wildcards, method=None):
    """The run (method, n_lf, n_hf, seed) a job's wildcards name."""
    method = method or wildcards.method
    if "run" in wildcards.keys():
        n_lf, n_hf, seed = re.fullmatch(model_runs.RUN_PATTERN, wildcards.run).groups()
    else:
        n_lf = wildcards.get("n_lf", 0)
        n_hf = wildcards.get("n_hf", 0)
        seed = wildcards.seed
    return dict(method=method, n_lf=int(n_lf), n_hf=int(n_hf), seed=int(seed))


def model_settings(wildcards, method=None):
    return model_runs.model_settings(config, **wildcard_run(wildcards, method))


def prefix_shards(pool, n):
    """Simulation shards holding the first ``n`` simulations of ``pool``."""
    data = model_runs.data_settings(config, pool, n)
    count = model_runs.shards_needed(data)
    return [SIM_SHARD.format(pool=pool, shard=k) for k in range(count)]


def training_shards(method):
    """Input function: the shards a ``method`` run trains on."""

    def shards_of(wildcards):
        run = wildcard_run(wildcards, method)
        pool = model_runs.DATA_POOL[method]
        return prefix_shards(pool, run["n_lf"] if pool == "lf" else run["n_hf"])

    return shards_of


def test_shards():
    return prefix_shards("test", config["budgets"]["n_test"])


def prior_params(wildcards):
    return shards.prior_settings(config, wildcards.pool, int(wildcards.shard))


def simulation_params(wildcards):
    return shards.simulation_settings(config, wildcards.pool)


def simulate_mem_mb(wildcards, attempt):
    """Memory of a simulation job [MB]: about 3x the peak measured on the default config
    (467 MB for a JAX LF shard, 184 MB for a numba HF shard; benchmark max_rss), times
    the attempt number (a retried job gets more)."""
    return (1500 if shards.FIDELITY[wildcards.pool] == "lf" else 600) * attempt


def simulate_runtime(wildcards):
    """Wall-time limit of a simulation job [min], generous for the default simulators."""
    return 60 if wildcards.pool == "lf" else 120


def training_benchmark(run):
    """The benchmark file of the job that trained ``run``."""
    if run["method"] == "lf_npe":
        return f"results/benchmarks/pretrain/nlf-{run['n_lf']}_seed-{run['seed']}.tsv"
    if run["method"] == "mf_npe":
        name = model_runs.run_name(run["n_lf"], run["n_hf"], run["seed"])
        return f"results/benchmarks/finetune/{name}.tsv"
    return f"results/benchmarks/npe/nhf-{run['n_hf']}_seed-{run['seed']}.tsv"


def pairplot_evaluation(method):
    """Evaluation shown in the pairplots: smallest HF budget, largest LF size, seed 0."""
    n_hf = min(config["budgets"]["n_hf"])
    n_lf = max(config["budgets"]["n_lf"]) if method == "mf_npe" else 0
    return run_path(EVALUATION, dict(method=method, n_lf=n_lf, n_hf=n_hf, seed=0))


def calibration_evaluations(wildcards):
    """Evaluations in the calibration figure of HF budget ``n_hf``: LF-NPE, NPE and MF-NPE
    (largest LF size), seed 0."""
    n_lf, n_hf = max(config["budgets"]["n_lf"]), int(wildcards.n_hf)
    budgets = dict(lf_npe=(n_lf, 0), npe=(0, n_hf), mf_npe=(n_lf, n_hf))
    return {
        method: run_path(EVALUATION, dict(method=method, n_lf=a, n_hf=b, seed=0))
        for method, (a, b) in budgets.items()
    }
