rule sample_prior:
    output:
        theta=PRIOR_SHARD,
    log:
        log_file("sample_prior/{pool}/shard-{shard}"),
    benchmark:
        benchmark_file("sample_prior/{pool}/shard-{shard}")
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
        model=MODEL_FILE,
    output:
        shard=SIM_SHARD,
    log:
        log_file(SIMULATE_JOB),
    benchmark:
        benchmark_file(SIMULATE_JOB)
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
        model=MODEL_FILE,
    output:
        traces=LF_TRACES,
    log:
        log_file("lf_traces"),
    benchmark:
        benchmark_file("lf_traces")
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
