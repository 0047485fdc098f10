# Sequential inference per recording (config section sequential; off when its methods
# list is empty): rounds of truncated NPE, each a proposal job, HF simulation shard jobs
# and one training job per ensemble member; then posteriors, comparisons and figures.
# Paths and input functions: rules/common_sequential.smk.
SEQUENTIAL_TARGETS = (
    expand(
        [
            f"{OBSERVATION}/sequential.h5",
            f"{FIGURES}/observations/{{recording}}_sequential.{{ext}}",
        ],
        recording=RECORDINGS,
        ext=["png", "svg"],
    )
    + [f"{SUMMARY}/sequential.csv", f"{SUMMARY}/sequential_c2st.csv"]
    if sequential_runs.enabled(config) and RECORDINGS
    else []
)


wildcard_constraints:
    seq_method="|".join(sequential_runs.METHODS),
    round=r"[1-9]\d*",
    member=r"\d+",


rule sequential_proposal:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        start=proposal_start,
    output:
        theta=[
            SEQ_THETA.replace("{shard}", str(k))
            for k in range(sequential_runs.shards_per_round(config))
        ],
    log:
        "results/logs/sequential_proposal/{recording}/{seq_method}/seed-{seed}/round-{round}.log",
    benchmark:
        "results/benchmarks/sequential_proposal/{recording}/{seq_method}/seed-{seed}/round-{round}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=20,
    params:
        chain=chain_of,
        round=lambda w: int(w.round),
        rows=[
            sequential_runs.shard_rows(config, k)
            for k in range(sequential_runs.shards_per_round(config))
        ],
    script:
        "../../scripts/sequential_proposal.py"


rule sequential_simulate:
    input:
        theta=SEQ_THETA,
    output:
        shard=SEQ_SIMS,
    log:
        "results/logs/sequential_simulate/{recording}/{seq_method}/seed-{seed}/round-{round}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/sequential_simulate/{recording}/{seq_method}/seed-{seed}/round-{round}/shard-{shard}.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 600 * attempt,
        runtime=120,
    params:
        settings=shards.simulation_settings(config, "hf"),
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
        "results/logs/sequential_train/{recording}/{seq_method}/seed-{seed}/round-{round}/member-{member}.log",
    benchmark:
        "results/benchmarks/sequential_train/{recording}/{seq_method}/seed-{seed}/round-{round}/member-{member}.tsv"
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
        amortized=f"{OBSERVATION}/posterior.h5",
    output:
        posterior=f"{OBSERVATION}/sequential.h5",
        c2st=f"{OBSERVATION}/sequential_c2st.csv",
    log:
        "results/logs/sequential_observe/{recording}.log",
    benchmark:
        "results/benchmarks/sequential_observe/{recording}.tsv"
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
        sequential=f"{OBSERVATION}/sequential.h5",
        amortized=f"{OBSERVATION}/posterior.h5",
    output:
        png=report(
            f"{FIGURES}/observations/{{recording}}_sequential.png",
            caption="../report/observation_sequential.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "sequential"},
        ),
        svg=f"{FIGURES}/observations/{{recording}}_sequential.svg",
    log:
        "results/logs/figures/observations/{recording}_sequential.log",
    benchmark:
        "results/benchmarks/figures/observations/{recording}_sequential.tsv"
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
        sequential=expand(f"{OBSERVATION}/sequential.h5", recording=RECORDINGS),
        amortized=expand(f"{OBSERVATION}/posterior.h5", recording=RECORDINGS),
        c2st=expand(f"{OBSERVATION}/sequential_c2st.csv", recording=RECORDINGS),
    output:
        table=f"{SUMMARY}/sequential.csv",
        over_seeds=f"{SUMMARY}/sequential_over_seeds.csv",
        c2st=f"{SUMMARY}/sequential_c2st.csv",
    log:
        "results/logs/sequential_summary.log",
    benchmark:
        "results/benchmarks/sequential_summary.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/sequential_summary.py"
