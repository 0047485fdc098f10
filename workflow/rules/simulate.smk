rule sample_prior:
    output:
        theta=PRIOR_SHARD,
    log:
        "results/logs/sample_prior/{pool}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/sample_prior/{pool}/shard-{shard}.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=5,
    params:
        settings=prior_params,
    script:
        "../../scripts/sample_prior.py"


rule simulate:
    input:
        theta=PRIOR_SHARD,
    output:
        shard=SIM_SHARD,
    log:
        "results/logs/simulate/{pool}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/simulate/{pool}/shard-{shard}.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=simulate_mem_mb,
        runtime=simulate_runtime,
    params:
        settings=simulation_params,
    script:
        "../../scripts/simulate.py"


rule lf_traces:
    input:
        theta=PRIOR_SHARD.format(pool="test", shard=0),
    output:
        traces="results/traces/lf_at_test.h5",
    log:
        "results/logs/lf_traces.log",
    benchmark:
        "results/benchmarks/lf_traces.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=10,
    params:
        settings={
            **shards.simulation_settings(config, "lf"),
            "trace_dt": config["traces"]["dt"],
        },
        n=config["evaluation"]["trace_examples"],
    script:
        "../../scripts/lf_traces.py"
