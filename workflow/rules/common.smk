# Validation, every path pattern, the targets and the input functions; stage files hold
# rules only. The library under scripts/mfnpe/plan decides what to run; this file names
# where it goes.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from mfnpe import names
from mfnpe.plan import observations
from mfnpe.plan import runs as model_runs
from mfnpe.plan import sequential as sequential_runs
from mfnpe.plan import shards
from mfnpe.plan import config as config_checks
from mfnpe.plan import integrity
from mfnpe.plan import out_folder
from mfnpe.io import kinds

# Snakemake merged the config files into `config`: the configfile: statement's
# (DEFAULT_CONFIG_FILE, when it exists) first, then every --configfile in order. Sets (the
# model, the prior, the examples) a later file gives replace the earlier ones' whole; every
# file is read strictly (duplicate keys) and an error names the file that set the key.
# workflow.configfiles lists the files, the --configfile ones first (Snakemake's report and
# source archive read it too); the statement's file is recorded as written. A file given
# twice (`make run` passes config/config.yaml, absolute, which the statement reads too)
# counts once: reading it again changes nothing.
CONFIG_SCHEMA = config_checks.load_schema(
    workflow.source_path("../schemas/config.schema.yaml")
)
STATEMENT_CONFIG_FILES = [
    path for path in workflow.configfiles if path == DEFAULT_CONFIG_FILE
]
COMMAND_LINE_CONFIG_FILES = [
    path for path in workflow.configfiles if path != DEFAULT_CONFIG_FILE
]
CONFIG_FILES = config_checks.distinct_paths(
    [*STATEMENT_CONFIG_FILES, *COMMAND_LINE_CONFIG_FILES]
)
for path in CONFIG_FILES:
    config_checks.read_yaml(path)
config_checks.replace_sets(config, COMMAND_LINE_CONFIG_FILES)


def area_from_recording(path, factor):
    """(low, high) µm² of prior/area/from_recording (imported here: it needs numpy)."""
    from mfnpe.observation.passive import area_prior_from_recording

    return area_prior_from_recording(path, factor)


AREA_PRIOR = config_checks.resolve_area_prior(config, CONFIG_FILES, area_from_recording)
if AREA_PRIOR and workflow.is_main_process:
    print(AREA_PRIOR)
config_checks.validate_files(config, CONFIG_FILES, CONFIG_SCHEMA)
# the output folder (config key out): every path below starts with it
OUT = out_folder.check(config, CONFIG_FILES)
if config["stimulus"].get("recording") is not None:
    # a recording stimulus: read its sweeps' protocols (and check the file) before any job;
    # only here, since that needs numpy and pyabf or pynwb (the planning layer has neither)
    from mfnpe.recordings.stimulus import resolve as resolve_recording
    from mfnpe.recordings.stimulus import resolve_cells

    config_checks.resolve_recording(config, CONFIG_FILES, resolve_recording)
    config_checks.resolve_cells(
        config, CONFIG_FILES, observations.cell_files, resolve_cells
    )
    if workflow.is_main_process:  # spontaneous firing, baseline drift (a dry run too)
        from mfnpe.observation.conditions import recording_warnings

        for message in recording_warnings(config):
            print(f"warning: {message}")


wildcard_constraints:
    pool="|".join(shards.POOLS),
    shard=r"\d+",
    method="|".join(model_runs.METHODS),
    run=model_runs.RUN_PATTERN,
    n_lf=r"\d+",
    n_hf=r"\d+",
    seed=r"\d+",
    recording=observations.NAME_PATTERN,
    seq_method="|".join(names.SEQUENTIAL_METHODS),
    round=r"[1-9]\d*",
    member=r"\d+",


# ---- paths: every file the workflow writes, by pattern ----
PRIOR_SHARD = f"{OUT}/prior/{{pool}}/shard-{{shard}}.h5"
SIM_SHARD = f"{OUT}/sims/{{pool}}/shard-{{shard}}.h5"
MODEL = f"{OUT}/models/{{method}}/{{run}}.pt"
EVALUATION = f"{OUT}/eval/{{method}}/{{run}}.h5"
LF_TRACES = f"{OUT}/traces/lf_at_test.h5"
EFFECTIVE_CONFIG = f"{OUT}/{out_folder.EFFECTIVE_CONFIG}"
SUMMARY = f"{OUT}/summary"
FIGURES = f"{OUT}/figures"
OBSERVATION = f"{OUT}/observations/{{recording}}"
OBSERVATION_POSTERIOR = f"{OBSERVATION}/posterior.h5"
OBSERVATION_PPC = f"{OBSERVATION}/ppc.h5"
# the misspecification verdict: the recording's features against a reference pool
OBSERVATION_TYPICALITY = f"{OBSERVATION}/misspecification.h5"
OBSERVATION_SEQUENTIAL = f"{OBSERVATION}/sequential.h5"
OBSERVATION_SEQUENTIAL_C2ST = f"{OBSERVATION}/sequential_c2st.csv"
# the HTML report's first page: what the run found above the workflow's description
REPORT_PAGE = f"{OUT}/report.rst"
# the synthetic examples, simulated into a folder the workflow owns (never observations/dir)
EXAMPLE_RECORDING = f"{observations.examples_folder(config)}/{{recording}}.{{format}}"
HF_SEQUENTIAL_METHODS = [
    m for m, fidelity in names.SEQUENTIAL_FIDELITY.items() if fidelity == "hf"
]
SEQUENTIAL_CHAIN = (
    f"{OUT}/sequential/{{recording}}/{{seq_method}}/seed-{{seed}}/round-{{round}}"
)
SEQ_THETA = f"{SEQUENTIAL_CHAIN}/theta/shard-{{shard}}.h5"
SEQ_SIMS = f"{SEQUENTIAL_CHAIN}/sims/shard-{{shard}}.h5"
SEQ_MEMBER = f"{SEQUENTIAL_CHAIN}/member-{{member}}.pt"
SIMULATE_JOB = "simulate/{pool}/shard-{shard}"
# a sequential round's part of its jobs' names (log and benchmark files)
CHAIN_JOB = "{recording}/{seq_method}/seed-{seed}/round-{round}"
# method -> the name (log and benchmark files) of the job that trains it
TRAIN_JOB = {
    "lf_npe": "pretrain/nlf-{n_lf}_seed-{seed}",
    "mf_npe": "finetune/nlf-{n_lf}_nhf-{n_hf}_seed-{seed}",
    "npe": "npe/nhf-{n_hf}_seed-{seed}",
}


def log_file(job):
    """The log file of ``job``: the job's name with its wildcards, ``simulate/{pool}/...``."""
    return f"{OUT}/{out_folder.LOGS}/{job}.log"


def benchmark_file(job):
    """The benchmark record of ``job``: wall, CPU time and peak memory."""
    return f"{OUT}/benchmarks/{job}.tsv"


def table(name):
    """A summary table: ``OUT/summary/{name}.csv``."""
    return f"{SUMMARY}/{name}.csv"


def figure(stem, ext):
    """A figure file, ``ext`` one of ``names.FIGURE_FORMATS``."""
    return f"{FIGURES}/{stem}.{ext}"


def observation_figure(name, ext):
    """Figure ``name`` (pairplot, ppc, sequential) of the recording ``{recording}``."""
    return figure(f"observations/{{recording}}_{name}", ext)


def observation_figures():
    """``{recording: its figure files (PNG)}``: the pairplot and the predictive check, and
    the sequential posteriors where the recording has chains."""
    return {
        recording: [
            observation_figure(name, "png").format(recording=recording)
            for name in ("pairplot", "ppc")
            + (
                ("sequential",)
                if SEQUENTIAL and recording in SEQUENTIAL_RECORDINGS
                else ()
            )
        ]
        for recording in RECORDINGS
    }


def report_top():
    """The HTML report's first page: the run's own (``REPORT_PAGE``: what it found above
    the workflow's description) once a run has written it, else the description alone.
    """
    if os.path.isfile(REPORT_PAGE):
        return os.path.abspath(REPORT_PAGE)
    return "report/workflow.rst"


def model_pattern(method):
    """MODEL for ``method`` with the run's wildcards open: LF-NPE has n_hf 0, NPE n_lf 0."""
    n_lf = 0 if method == "npe" else "{n_lf}"
    n_hf = 0 if method == "lf_npe" else "{n_hf}"
    return MODEL.format(method=method, run=model_runs.run_name(n_lf, n_hf, "{seed}"))


# every file the workflow writes that a later job reads, with the kind it holds
INTERMEDIATES = {
    PRIOR_SHARD: kinds.PRIOR_SHARD,
    SIM_SHARD: kinds.SIM_SHARD,
    MODEL: kinds.MODEL,
    EVALUATION: kinds.EVALUATION,
    LF_TRACES: kinds.SIM_SHARD,
    OBSERVATION_POSTERIOR: kinds.OBSERVATION_POSTERIOR,
    OBSERVATION_PPC: kinds.PREDICTIVE_CHECK,
    OBSERVATION_TYPICALITY: kinds.MISSPECIFICATION,
    OBSERVATION_SEQUENTIAL: kinds.OBSERVATION_POSTERIOR,
    EXAMPLE_RECORDING: None,  # the recording format users write too: no kind of ours
    SEQ_THETA: kinds.PRIOR_SHARD,
    SEQ_SIMS: kinds.SIM_SHARD,
    SEQ_MEMBER: kinds.MODEL,
}


def find_broken_intermediates():
    """Files at the workflow's own output paths (``INTERMEDIATES``) that no job could read:
    truncated, of another kind (a foreign HDF5 file), changed on disk since they were
    written (checksums), a model that does not load as weights. Only judged and named here
    (parsing changes nothing on disk); their jobs are forced, so the run makes them again
    and re-runs what depends on them, and ``move_broken_aside`` (at the start of a real
    run only) moves them to the quarantine first. Returns ``{path: fault}``."""
    if not workflow.is_main_process:
        return {}
    found = integrity.broken(integrity.workflow_files(OUT, INTERMEDIATES))
    for path, fault in found.items():
        print(
            f"{path}: {fault}; a run (not -n) moves it to "
            f"{OUT}/{integrity.QUARANTINE}/ and makes it again with its "
            "dependants"
        )
    return found if found and force_jobs_of(found) else {}


def force_jobs_of(paths):
    """Have Snakemake re-run the jobs that write ``paths`` (as ``--forcerun PATH...``);
    True when it will, False when no DAG is built (``--list-rules``, ``--lint``).

    The DAG settings are not the workflow's yet while the Snakefile is parsed: Snakemake's
    DAG API assigns its own right after. Find that object up the stack and add to its
    ``forcerun`` (tests/test_reliability.py checks this against the pinned Snakemake).
    """
    import inspect

    for frame in inspect.stack(context=0):
        dag_settings = getattr(frame.frame.f_locals.get("self"), "dag_settings", None)
        if dag_settings is not None and hasattr(dag_settings, "forcerun"):
            dag_settings.forcerun = frozenset(dag_settings.forcerun) | set(paths)
            return True
    return False


def move_broken_aside():
    """At the start of a real run (``onstart``; never a dry run, ``--unlock``, ``--list``
    or ``--summary``): move the broken intermediates found at parse to the quarantine,
    with a line each in its log. A folder that is not writable stops the run with a
    message naming it."""
    if not BROKEN or workflow.dryrun or workflow.touch:
        return
    try:
        moved = integrity.quarantine(BROKEN, OUT)
    except integrity.QuarantineError as err:
        raise WorkflowError(str(err)) from None
    for item in moved:
        print(f"{item.source}: moved to {item.target} ({item.fault}); making it again")


# the user's neuron model file (model/file), if any: an input of every job that simulates,
# so that editing it re-runs them (its path is in their settings already)
MODEL_FILE = [config["model"]["file"]] if "file" in config["model"] else []
# the examples and the user's recordings (observations/dir: checked here, only ever read)
RECORDINGS = observations.recordings(config)
SEQUENTIAL_RECORDINGS = sequential_runs.recordings(config, RECORDINGS)
SEQUENTIAL = sequential_runs.enabled(config) and bool(SEQUENTIAL_RECORDINGS)
# judged only after the whole config is valid: a refused config never reaches this line
BROKEN = find_broken_intermediates()


# ---- targets ----
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
    """Every figure of the test-set evaluation, in every format."""
    stems = ["nltp_vs_budget", "traces_lf_hf", "cost"]
    stems += [
        f"pairplot_obs-{k}"
        for k in range(config["evaluation"]["pairplot_observations"])
    ]
    stems += [f"calibration_nhf-{n}" for n in model_runs.calibration_budgets(config)]
    return [figure(stem, ext) for stem in stems for ext in names.FIGURE_FORMATS]


def observation_outputs():
    """Posterior, predictive check and figures of every recording, and their table."""
    if not RECORDINGS:
        return []
    paths = expand([OBSERVATION_POSTERIOR, OBSERVATION_PPC], recording=RECORDINGS)
    paths += [
        observation_figure(name, ext).format(recording=recording)
        for recording in RECORDINGS
        for name in ("pairplot", "ppc")
        for ext in names.FIGURE_FORMATS
    ]
    paths.append(table("observations"))
    if config["stimulus"].get("cell_sweeps"):  # many cells: their table and population
        paths += [table("cells")] + [
            figure("cells", ext) for ext in names.FIGURE_FORMATS
        ]
    return paths


def sequential_outputs():
    """Sequential posteriors and figures of the sequential stage's recordings and their
    tables (when the config's sequential methods list is not empty)."""
    if not SEQUENTIAL:
        return []
    paths = expand(OBSERVATION_SEQUENTIAL, recording=SEQUENTIAL_RECORDINGS)
    paths += [
        observation_figure("sequential", ext).format(recording=recording)
        for recording in SEQUENTIAL_RECORDINGS
        for ext in names.FIGURE_FORMATS
    ]
    return paths + [table("sequential"), table("sequential_c2st")]


def all_outputs():
    """Targets of the default target: shards, models' evaluations, summary tables, figures,
    the observation and sequential stages and the report's first page."""
    tables = ["metrics", "table", "saving", "saving_over_seeds", "calibration"]
    tables += ["cost", "cost_to_nltp"]
    return (
        all_sim_shards()
        + all_evaluations()
        + [table(name) for name in tables]
        + figure_paths()
        + observation_outputs()
        + sequential_outputs()
        + [REPORT_PAGE]
    )


# ---- input functions and params ----
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


def reference_shards():
    """The shards of the misspecification verdict's reference simulations."""
    reference = observations.misspecification_reference(config)
    return prefix_shards(reference["pool"], reference["n"])


def simulation_benchmarks(pool):
    """Benchmark records of every simulation shard of ``pool``, in shard order."""
    return shards.shard_paths(config, pool, benchmark_file(SIMULATE_JOB))


def prior_params(wildcards):
    return shards.prior_settings(config, wildcards.pool, int(wildcards.shard))


def simulation_params(wildcards):
    return shards.simulation_settings(config, wildcards.pool)


def simulate_mem_mb(wildcards, attempt, threads):
    """Memory of a simulation job [MB]: 3x its peak estimated from measured per-unit costs
    (467 MB for a JAX LF shard, 184 MB for a numba HF shard of the default config's 120 ms
    simulations, plus 9-17 bytes per simulator step of every simulation of the batches in
    flight, one per thread, and the kept traces; ``mfnpe.plan.resources``), so it grows
    with the simulated time, the sweeps of a recording and the shard size; at least 1500
    (LF) or 600 (HF); times the attempt number (a retried job gets more)."""
    from mfnpe.plan import resources as job_resources

    return job_resources.simulate_mem_mb(config, wildcards.pool, threads) * attempt


def simulate_runtime(wildcards):
    """Wall-time limit of a simulation job [min]: 3x its time estimated from measured
    per-unit costs (simulator speed, for ``markov`` growing with the membrane area, times
    the shard's simulated time; ``mfnpe.plan.resources``), at least 60 (LF) or 120 (HF).
    """
    from mfnpe.plan import resources as job_resources

    return job_resources.simulate_runtime(config, wildcards.pool)


def training_benchmark(run):
    """The benchmark file of the job that trained ``run``."""
    return benchmark_file(TRAIN_JOB[run["method"]].format(**run))


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


def nltp_figure_inputs(wildcards):
    """The metrics table, and the sequential table when sequential inference is on."""
    found = {"metrics": table("metrics")}
    if SEQUENTIAL:
        found["sequential"] = table("sequential")
    return found


# ---- sequential chains ----
def chain_path(pattern, wildcards, **fields):
    """``pattern`` for the chain the wildcards name, with ``fields`` (round, shard...)."""
    return pattern.format(
        recording=wildcards.recording,
        seq_method=wildcards.seq_method,
        seed=wildcards.seed,
        **fields,
    )


def chain_of(wildcards):
    return sequential_runs.chain_settings(
        config, wildcards.recording, wildcards.seq_method, int(wildcards.seed)
    )


def pretrained_model(seed):
    return run_path(MODEL, sequential_runs.pretrained_run(config, seed))


def chain_start(wildcards):
    """The network round 1 of a chain starts from: LF-TSNPE's after its last round (an MF
    method's HF rounds when LF-TSNPE runs too), the amortized LF-pretrained one (other
    MF methods and LF-TSNPE), or none (TSNPE: the prior)."""
    method = wildcards.seq_method
    if sequential_runs.starts_from_lf_chain(config, method):
        lf_rounds = sequential_runs.rounds(config, sequential_runs.LF_CHAIN)
        return [
            SEQ_MEMBER.format(
                recording=wildcards.recording,
                seq_method=sequential_runs.LF_CHAIN,
                seed=wildcards.seed,
                round=lf_rounds,
                member=0,
            )
        ]
    if names.PRETRAINED[method]:
        return [pretrained_model(wildcards.seed)]
    return []


def proposal_rule_outputs(method):
    """The parameter shards of one round of a ``method`` chain (their count is the
    method's shards per round)."""
    return [
        SEQ_THETA.replace("{shard}", str(k))
        for k in range(sequential_runs.shards_per_round(config, method))
    ]


def proposal_rows(method):
    return [
        sequential_runs.shard_rows(config, method, k)
        for k in range(sequential_runs.shards_per_round(config, method))
    ]


def proposal_start(wildcards):
    """Networks a round's proposal truncates with: the previous round's members, or
    :func:`chain_start` before round 1."""
    round_ = int(wildcards.round)
    if round_ > 1:
        members = sequential_runs.members(config, wildcards.seq_method)
        return [
            chain_path(SEQ_MEMBER, wildcards, round=round_ - 1, member=e)
            for e in range(members)
        ]
    return chain_start(wildcards)


def train_start(wildcards):
    """The network a member continues: itself after the previous round, or
    :func:`chain_start` before round 1."""
    round_ = int(wildcards.round)
    if round_ > 1:
        return [
            chain_path(SEQ_MEMBER, wildcards, round=round_ - 1, member=wildcards.member)
        ]
    return chain_start(wildcards)


def sequential_posterior(wildcards):
    """The recording's sequential posteriors, when it has sequential chains (their final
    rounds join its predictive check)."""
    if sequential_runs.final_runs(config, wildcards.recording):
        return [OBSERVATION_SEQUENTIAL.format(recording=wildcards.recording)]
    return []


def rounds_so_far(wildcards):
    """(round, shard) of every simulation shard of rounds 1..round."""
    shards_per_round = sequential_runs.shards_per_round(config, wildcards.seq_method)
    return [
        (r, k)
        for r in range(1, int(wildcards.round) + 1)
        for k in range(shards_per_round)
    ]


def sequential_models(wildcards):
    """Every member after every round of the recording's chains, in the order of
    ``sequential_runs.posterior_runs``."""
    return [
        SEQ_MEMBER.format(
            recording=wildcards.recording,
            seq_method=run["method"],
            seed=run["seed"],
            round=run["round"],
            member=e,
        )
        for run in sequential_runs.posterior_runs(config, wildcards.recording)
        for e in range(sequential_runs.members(config, run["method"]))
    ]


def announce_config():
    """At the start of a run: write the effective config to OUT/config.yaml (when it
    changed), print its prior and warn where a simulator is known to be inaccurate for the
    configured neuron (``mfnpe.simulation.regimes``; imported here, not at parse: it needs numpy).
    """
    from mfnpe.simulation import regimes

    config_checks.write_effective_config(config, EFFECTIVE_CONFIG)
    print(f"config: {', '.join(map(str, CONFIG_FILES))} -> {EFFECTIVE_CONFIG}")
    print(config_checks.describe_prior(config, CONFIG_SCHEMA))
    for message in regimes.config_warnings(config):
        print(f"warning: {message}")
