# Posterior estimators: LF pretraining, HF fine-tuning (MF-NPE) and the HF-only NPE.


rule pretrain:
    input:
        shards=training_shards("lf_npe"),
    output:
        model=model_pattern("lf_npe"),
    log:
        log_file(TRAIN_JOB["lf_npe"]),
    benchmark:
        benchmark_file(TRAIN_JOB["lf_npe"])
    # the longest jobs, each gating its fine-tunings: start them first
    priority: 10
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=120,
    params:
        settings=lambda w: model_settings(w, "lf_npe"),
        run=lambda w: wildcard_run(w, "lf_npe"),
    script:
        "../../scripts/train.py"


rule finetune:
    input:
        shards=training_shards("mf_npe"),
        pretrained=model_pattern("lf_npe"),
    output:
        model=model_pattern("mf_npe"),
    log:
        log_file(TRAIN_JOB["mf_npe"]),
    benchmark:
        benchmark_file(TRAIN_JOB["mf_npe"])
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=60,
    params:
        settings=lambda w: model_settings(w, "mf_npe"),
        run=lambda w: wildcard_run(w, "mf_npe"),
    script:
        "../../scripts/train.py"


rule npe:
    input:
        shards=training_shards("npe"),
    output:
        model=model_pattern("npe"),
    log:
        log_file(TRAIN_JOB["npe"]),
    benchmark:
        benchmark_file(TRAIN_JOB["npe"])
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=60,
    params:
        settings=lambda w: model_settings(w, "npe"),
        run=lambda w: wildcard_run(w, "npe"),
    script:
        "../../scripts/train.py"
