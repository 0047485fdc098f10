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
        mem_mb=500,
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
