# Figures (PNG and SVG) from the summary tables, evaluations and traces.


rule figure_nltp:
    input:
        unpack(
            lambda w: {
                "metrics": f"{SUMMARY}/metrics.csv",
                **(
                    {"sequential": f"{SUMMARY}/sequential.csv"}
                    if sequential_runs.enabled(config) and RECORDINGS
                    else {}
                ),
            }
        ),
    output:
        png=report(
            f"{FIGURES}/nltp_vs_budget.png",
            caption="../report/nltp_vs_budget.rst",
            category="Figures",
            subcategory="NLTP against HF budget",
        ),
        svg=f"{FIGURES}/nltp_vs_budget.svg",
    log:
        "results/logs/figures/nltp_vs_budget.log",
    benchmark:
        "results/benchmarks/figures/nltp_vs_budget.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/figure_nltp.py"


rule figure_pairplot:
    input:
        npe=pairplot_evaluation("npe"),
        mf_npe=pairplot_evaluation("mf_npe"),
    output:
        png=report(
            f"{FIGURES}/pairplot_obs-{{obs}}.png",
            caption="../report/pairplot.rst",
            category="Figures",
            subcategory="Posteriors",
            labels={"observation": "{obs}"},
        ),
        svg=f"{FIGURES}/pairplot_obs-{{obs}}.svg",
    log:
        "results/logs/figures/pairplot_obs-{obs}.log",
    benchmark:
        "results/benchmarks/figures/pairplot_obs-{obs}.tsv"
    wildcard_constraints:
        obs=r"\d+",
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        prior=dict(config["prior"]),
    script:
        "../../scripts/figure_pairplot.py"


rule figure_traces:
    input:
        lf="results/traces/lf_at_test.h5",
        hf=SIM_SHARD.format(pool="test", shard=0),
    output:
        png=report(
            f"{FIGURES}/traces_lf_hf.png",
            caption="../report/traces_lf_hf.rst",
            category="Figures",
            subcategory="LF and HF traces",
        ),
        svg=f"{FIGURES}/traces_lf_hf.svg",
    log:
        "results/logs/figures/traces_lf_hf.log",
    benchmark:
        "results/benchmarks/figures/traces_lf_hf.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        simulators={
            fidelity: config["simulators"][fidelity]["name"]
            for fidelity in ("lf", "hf")
        },
    script:
        "../../scripts/figure_traces.py"


rule figure_cost:
    input:
        cost=f"{SUMMARY}/cost.csv",
    output:
        png=report(
            f"{FIGURES}/cost.png",
            caption="../report/cost.rst",
            category="Figures",
            subcategory="CPU cost",
        ),
        svg=f"{FIGURES}/cost.svg",
    log:
        "results/logs/figures/cost.log",
    benchmark:
        "results/benchmarks/figures/cost.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/figure_cost.py"


rule figure_calibration:
    input:
        unpack(calibration_evaluations),
    output:
        png=report(
            f"{FIGURES}/calibration_nhf-{{n_hf}}.png",
            caption="../report/calibration.rst",
            category="Figures",
            subcategory="Calibration",
            labels={"HF budget": "{n_hf}"},
        ),
        svg=f"{FIGURES}/calibration_nhf-{{n_hf}}.svg",
    log:
        "results/logs/figures/calibration_nhf-{n_hf}.log",
    benchmark:
        "results/benchmarks/figures/calibration_nhf-{n_hf}.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/figure_calibration.py"
