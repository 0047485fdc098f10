# Every model on the HF test pool, then tables over models and seeds.


rule evaluate:
    input:
        model=MODEL,
        test=test_shards(),
    output:
        evaluation=EVALUATION,
    log:
        "results/logs/evaluate/{method}/{run}.log",
    benchmark:
        "results/benchmarks/evaluate/{method}/{run}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=30,
    params:
        settings=model_runs.evaluation_settings(config),
        model_settings=model_settings,
        run=wildcard_run,
    script:
        "../../scripts/evaluate.py"


rule aggregate:
    input:
        evaluations=all_evaluations(),
    output:
        metrics=f"{SUMMARY}/metrics.csv",
        table=f"{SUMMARY}/table.csv",
        saving=f"{SUMMARY}/saving.csv",
        saving_over_seeds=f"{SUMMARY}/saving_over_seeds.csv",
        calibration=f"{SUMMARY}/calibration.csv",
    log:
        "results/logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        level=config["evaluation"]["calibration_level"],
    script:
        "../../scripts/aggregate.py"


rule cost:
    input:
        lf=shards.shard_paths(
            config, "lf", "results/benchmarks/simulate/{pool}/shard-{shard}.tsv"
        ),
        hf=shards.shard_paths(
            config, "hf", "results/benchmarks/simulate/{pool}/shard-{shard}.tsv"
        ),
        train=[training_benchmark(run) for run in all_runs()],  # in all_runs() order
        metrics=f"{SUMMARY}/metrics.csv",
    output:
        cost=f"{SUMMARY}/cost.csv",
        to_nltp=f"{SUMMARY}/cost_to_nltp.csv",
    log:
        "results/logs/cost.log",
    benchmark:
        "results/benchmarks/cost.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        runs=all_runs(),
        shard_size=dict(config["shards"]),
    script:
        "../../scripts/cost.py"
