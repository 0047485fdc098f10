# Every model on the HF test pool, then tables over models and seeds.


rule evaluate:
    input:
        model=MODEL,
        test=test_shards(),
    output:
        evaluation=EVALUATION,
    log:
        log_file("evaluate/{method}/{run}"),
    benchmark:
        benchmark_file("evaluate/{method}/{run}")
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
        metrics=table("metrics"),
        table=table("table"),
        saving=table("saving"),
        saving_over_seeds=table("saving_over_seeds"),
        calibration=table("calibration"),
    log:
        log_file("aggregate"),
    benchmark:
        benchmark_file("aggregate")
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
        lf=simulation_benchmarks("lf"),
        hf=simulation_benchmarks("hf"),
        train=[training_benchmark(run) for run in all_runs()],  # in all_runs() order
        metrics=table("metrics"),
    output:
        cost=table("cost"),
        to_nltp=table("cost_to_nltp"),
    log:
        log_file("cost"),
    benchmark:
        benchmark_file("cost")
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
