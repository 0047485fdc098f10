# Posterior estimators: LF pretraining, HF fine-tuning (MF-NPE) and the HF-only NPE.


rule pretrain:
    input:
        shards=training_shards("lf_npe"),
    output:
        model="results/models/lf_npe/nlf-{n_lf}_nhf-0_seed-{seed}.pt",
    log:
        "results/logs/pretrain/nlf-{n_lf}_seed-{seed}.log",
    benchmark:
        "results/benchmarks/pretrain/nlf-{n_lf}_seed-{seed}.tsv"
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
        pretrained="results/models/lf_npe/nlf-{n_lf}_nhf-0_seed-{seed}.pt",
    output:
        model="results/models/mf_npe/nlf-{n_lf}_nhf-{n_hf}_seed-{seed}.pt",
    log:
        "results/logs/finetune/nlf-{n_lf}_nhf-{n_hf}_seed-{seed}.log",
    benchmark:
        "results/benchmarks/finetune/nlf-{n_lf}_nhf-{n_hf}_seed-{seed}.tsv"
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
        model="results/models/npe/nlf-0_nhf-{n_hf}_seed-{seed}.pt",
    log:
        "results/logs/npe/nhf-{n_hf}_seed-{seed}.log",
    benchmark:
        "results/benchmarks/npe/nhf-{n_hf}_seed-{seed}.tsv"
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
