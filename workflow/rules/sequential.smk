# Sequential inference per recording (config section sequential; off when its methods
# list is empty): rounds of truncated NPE, each a proposal job, simulation shard jobs (HF,
# or LF for LF-TSNPE) and one training job per ensemble member; then posteriors,
# comparisons and figures.
# Paths and input functions: rules/common.smk.


rule sequential_proposal:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        start=proposal_start,
    output:
        theta=proposal_rule_outputs("tsnpe"),
    log:
        log_file(f"sequential_proposal/{CHAIN_JOB}"),
    benchmark:
        benchmark_file(f"sequential_proposal/{CHAIN_JOB}")
    wildcard_constraints:
        seq_method="|".join(HF_SEQUENTIAL_METHODS),
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=20,
    params:
        chain=chain_of,
        round=lambda w: int(w.round),
        rows=proposal_rows("tsnpe"),
    script:
        "../../scripts/sequential_proposal.py"


use rule sequential_proposal as sequential_lf_proposal with:
    output:
        theta=proposal_rule_outputs(sequential_runs.LF_CHAIN),
    wildcard_constraints:
        seq_method=sequential_runs.LF_CHAIN,
    params:
        chain=chain_of,
        round=lambda w: int(w.round),
        rows=proposal_rows(sequential_runs.LF_CHAIN),


rule sequential_simulate:
    input:
        theta=SEQ_THETA,
        model=MODEL_FILE,
    output:
        shard=SEQ_SIMS,
    log:
        log_file(f"sequential_simulate/{CHAIN_JOB}/shard-{{shard}}"),
    benchmark:
        benchmark_file(f"sequential_simulate/{CHAIN_JOB}/shard-{{shard}}")
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 600 * attempt,
        runtime=120,
    params:
        settings=lambda w: chain_of(w)["simulation"],
    script:
        "../../scripts/simulate.py"


rule sequential_train:
    input:
        sims=lambda w: [
            chain_path(SEQ_SIMS, w, round=r, shard=k) for r, k in rounds_so_far(w)
        ],
        start=train_start,
    output:
        model=SEQ_MEMBER,
    log:
        log_file(f"sequential_train/{CHAIN_JOB}/member-{{member}}"),
    benchmark:
        benchmark_file(f"sequential_train/{CHAIN_JOB}/member-{{member}}")
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=60,
    params:
        chain=chain_of,
        round=lambda w: int(w.round),
        member=lambda w: int(w.member),
        shards=rounds_so_far,
    script:
        "../../scripts/sequential_train.py"


rule sequential_observe:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        models=sequential_models,
        amortized=OBSERVATION_POSTERIOR,
    output:
        posterior=OBSERVATION_SEQUENTIAL,
        c2st=OBSERVATION_SEQUENTIAL_C2ST,
    log:
        log_file("sequential_observe/{recording}"),
    benchmark:
        benchmark_file("sequential_observe/{recording}")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=30,
    params:
        settings=lambda w: sequential_runs.observe_settings(config, w.recording),
        runs=lambda w: sequential_runs.posterior_runs(config, w.recording),
    script:
        "../../scripts/sequential_observe.py"


rule figure_sequential:
    input:
        sequential=OBSERVATION_SEQUENTIAL,
        amortized=OBSERVATION_POSTERIOR,
    output:
        png=report(
            observation_figure("sequential", "png"),
            caption="../report/observation_sequential.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "sequential"},
        ),
        svg=observation_figure("sequential", "svg"),
    log:
        log_file("figures/observations/{recording}_sequential"),
    benchmark:
        benchmark_file("figures/observations/{recording}_sequential")
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        prior=dict(config["prior"]),
    script:
        "../../scripts/figure_sequential.py"


rule sequential_summary:
    input:
        sequential=expand(OBSERVATION_SEQUENTIAL, recording=SEQUENTIAL_RECORDINGS),
        amortized=expand(OBSERVATION_POSTERIOR, recording=SEQUENTIAL_RECORDINGS),
        c2st=expand(OBSERVATION_SEQUENTIAL_C2ST, recording=SEQUENTIAL_RECORDINGS),
    output:
        table=table("sequential"),
        over_seeds=table("sequential_over_seeds"),
        c2st=table("sequential_c2st"),
    log:
        log_file("sequential_summary"),
    benchmark:
        benchmark_file("sequential_summary")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/sequential_summary.py"
