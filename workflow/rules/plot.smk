# Figures (PNG and SVG) from the summary tables, evaluations and traces.


rule figure_nltp:
    input:
        unpack(nltp_figure_inputs),
    output:
        png=report(
            figure("nltp_vs_budget", "png"),
            caption="../report/nltp_vs_budget.rst",
            category="Figures",
            subcategory="NLTP against HF budget",
        ),
        svg=figure("nltp_vs_budget", "svg"),
    log:
        log_file("figures/nltp_vs_budget"),
    benchmark:
        benchmark_file("figures/nltp_vs_budget")
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
            figure("pairplot_obs-{obs}", "png"),
            caption="../report/pairplot.rst",
            category="Figures",
            subcategory="Posteriors",
            labels={"observation": "{obs}"},
        ),
        svg=figure("pairplot_obs-{obs}", "svg"),
    log:
        log_file("figures/pairplot_obs-{obs}"),
    benchmark:
        benchmark_file("figures/pairplot_obs-{obs}")
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
        lf=LF_TRACES,
        hf=SIM_SHARD.format(pool="test", shard=0),
    output:
        png=report(
            figure("traces_lf_hf", "png"),
            caption="../report/traces_lf_hf.rst",
            category="Figures",
            subcategory="LF and HF traces",
        ),
        svg=figure("traces_lf_hf", "svg"),
    log:
        log_file("figures/traces_lf_hf"),
    benchmark:
        benchmark_file("figures/traces_lf_hf")
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
        cost=table("cost"),
    output:
        png=report(
            figure("cost", "png"),
            caption="../report/cost.rst",
            category="Figures",
            subcategory="CPU cost",
        ),
        svg=figure("cost", "svg"),
    log:
        log_file("figures/cost"),
    benchmark:
        benchmark_file("figures/cost")
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
            figure("calibration_nhf-{n_hf}", "png"),
            caption="../report/calibration.rst",
            category="Figures",
            subcategory="Calibration",
            labels={"HF budget": "{n_hf}"},
        ),
        svg=figure("calibration_nhf-{n_hf}", "svg"),
    log:
        log_file("figures/calibration_nhf-{n_hf}"),
    benchmark:
        benchmark_file("figures/calibration_nhf-{n_hf}")
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/figure_calibration.py"
