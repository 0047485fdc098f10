# Observations: recordings in the observations folder (only read) and synthetic examples with
# known parameters (simulated under the output folder); every model's posterior for each,
# predictive checks, figures, a table and the report's first page.


rule example_recording:
    input:
        model=MODEL_FILE,
    output:
        recording=EXAMPLE_RECORDING,
    log:
        log_file("example_recording/{recording}.{format}"),
    benchmark:
        benchmark_file("example_recording/{recording}.{format}")
    wildcard_constraints:
        recording=observations.example_pattern(config),
        format="|".join(s.lstrip(".") for s in names.RECORDING_SUFFIXES),
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 600 * attempt,
        runtime=10,
    params:
        settings=lambda w: observations.example_settings(config, w.recording),
    script:
        "../../scripts/example_recording.py"


rule observe:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        models=[run_path(MODEL, run) for run in all_runs()],
        reference=reference_shards(),
    output:
        posterior=OBSERVATION_POSTERIOR,
        typicality=OBSERVATION_TYPICALITY,
    log:
        log_file("observe/{recording}"),
    benchmark:
        benchmark_file("observe/{recording}")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=30,
    params:
        settings=lambda w: observations.observe_settings(config, w.recording),
        reference=observations.misspecification_reference(config),
        alpha=config["observations"]["misspecification_alpha"],
    script:
        "../../scripts/observe.py"


rule predictive_check:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        posterior=OBSERVATION_POSTERIOR,
        sequential=sequential_posterior,
        model=MODEL_FILE,
    output:
        ppc=OBSERVATION_PPC,
    log:
        log_file("predictive_check/{recording}"),
    benchmark:
        benchmark_file("predictive_check/{recording}")
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=30,
    params:
        settings=lambda w: observations.predictive_settings(config, w.recording),
        sequential_runs=lambda w: sequential_runs.final_runs(config, w.recording),
    script:
        "../../scripts/predictive_check.py"


rule figure_observation_pairplot:
    input:
        posterior=OBSERVATION_POSTERIOR,
        typicality=OBSERVATION_TYPICALITY,
    output:
        png=report(
            observation_figure("pairplot", "png"),
            caption="../report/observation_pairplot.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "posterior"},
        ),
        svg=observation_figure("pairplot", "svg"),
    log:
        log_file("figures/observations/{recording}_pairplot"),
    benchmark:
        benchmark_file("figures/observations/{recording}_pairplot")
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        prior=dict(config["prior"]),
        runs=observations.ppc_runs(config),
    script:
        "../../scripts/figure_observation_pairplot.py"


rule figure_observation_ppc:
    input:
        ppc=OBSERVATION_PPC,
        typicality=OBSERVATION_TYPICALITY,
    output:
        png=report(
            observation_figure("ppc", "png"),
            caption="../report/observation_ppc.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "predictive check"},
        ),
        svg=observation_figure("ppc", "svg"),
    log:
        log_file("figures/observations/{recording}_ppc"),
    benchmark:
        benchmark_file("figures/observations/{recording}_ppc")
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        stimulus=dict(config["stimulus"]),
    script:
        "../../scripts/figure_observation_ppc.py"


rule observation_summary:
    input:
        posteriors=expand(OBSERVATION_POSTERIOR, recording=RECORDINGS),
        typicalities=expand(OBSERVATION_TYPICALITY, recording=RECORDINGS),
        ppcs=expand(OBSERVATION_PPC, recording=RECORDINGS),
        sequential=(
            expand(OBSERVATION_SEQUENTIAL, recording=SEQUENTIAL_RECORDINGS)
            if SEQUENTIAL
            else []
        ),
    output:
        table=table("observations"),
    log:
        log_file("observation_summary"),
    benchmark:
        benchmark_file("observation_summary")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/observation_summary.py"


rule cells_summary:
    input:
        posteriors=expand(OBSERVATION_POSTERIOR, recording=RECORDINGS),
        observations=table("observations"),
        recordings=list(RECORDINGS.values()),
    output:
        table=table("cells"),
    log:
        log_file("cells_summary"),
    benchmark:
        benchmark_file("cells_summary")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        run=observations.ppc_runs(config)[0],
    script:
        "../../scripts/cells_summary.py"


rule figure_cells:
    input:
        posteriors=expand(OBSERVATION_POSTERIOR, recording=RECORDINGS),
    output:
        png=report(
            figure("cells", "png"),
            caption="../report/cells.rst",
            category="Figures",
            subcategory="Observations",
            labels={"figure": "population"},
        ),
        svg=figure("cells", "svg"),
    log:
        log_file("figures/cells"),
    benchmark:
        benchmark_file("figures/cells")
    conda:
        "../../envs/plot.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    params:
        run=observations.ppc_runs(config)[0],
        prior=dict(config["prior"]),
    script:
        "../../scripts/figure_cells.py"


rule report_page:
    input:
        template=workflow.source_path("../report/workflow.rst"),
        observed=observation_outputs() + sequential_outputs(),
    output:
        page=REPORT_PAGE,
    log:
        log_file("report_page"),
    benchmark:
        benchmark_file("report_page")
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=5,
    params:
        figures=lambda wildcards: observation_figures(),
        table=lambda wildcards: table("observations"),  # an input when there are recordings
    script:
        "../../scripts/report_page.py"
