# Observations: recordings in the observations folder and synthetic examples with known
# parameters; every model's posterior for each, predictive checks, figures and a table.
from mfnpe.plan import observations

RECORDINGS = observations.recordings(config)
OBSERVATION = "results/observations/{recording}"
OBSERVATION_TARGETS = expand(
    [
        f"{OBSERVATION}/posterior.h5",
        f"{OBSERVATION}/ppc.h5",
        f"{FIGURES}/observations/{{recording}}_pairplot.{{ext}}",
        f"{FIGURES}/observations/{{recording}}_ppc.{{ext}}",
    ],
    recording=RECORDINGS,
    ext=["png", "svg"],
) + ([f"{SUMMARY}/observations.csv"] if RECORDINGS else [])


wildcard_constraints:
    recording=observations.NAME_PATTERN,


rule example_recording:
    output:
        recording=f"{observations.directory(config)}/{{recording}}.{{format}}",
    log:
        "results/logs/example_recording/{recording}.{format}.log",
    benchmark:
        "results/benchmarks/example_recording/{recording}.{format}.tsv"
    wildcard_constraints:
        recording=observations.example_pattern(config),
        format="h5|hdf5|csv",
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
    output:
        posterior=f"{OBSERVATION}/posterior.h5",
    log:
        "results/logs/observe/{recording}.log",
    benchmark:
        "results/benchmarks/observe/{recording}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=30,
    params:
        settings=observations.observe_settings(config),
        hint=lambda w: observations.example_hint(config, w.recording),
    script:
        "../../scripts/observe.py"


rule predictive_check:
    input:
        recording=lambda w: RECORDINGS[w.recording],
        posterior=f"{OBSERVATION}/posterior.h5",
    output:
        ppc=f"{OBSERVATION}/ppc.h5",
    log:
        "results/logs/predictive_check/{recording}.log",
    benchmark:
        "results/benchmarks/predictive_check/{recording}.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=30,
    params:
        settings=observations.predictive_settings(config),
    script:
        "../../scripts/predictive_check.py"


rule figure_observation_pairplot:
    input:
        posterior=f"{OBSERVATION}/posterior.h5",
    output:
        png=report(
            f"{FIGURES}/observations/{{recording}}_pairplot.png",
            caption="../report/observation_pairplot.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "posterior"},
        ),
        svg=f"{FIGURES}/observations/{{recording}}_pairplot.svg",
    log:
        "results/logs/figures/observations/{recording}_pairplot.log",
    benchmark:
        "results/benchmarks/figures/observations/{recording}_pairplot.tsv"
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
        ppc=f"{OBSERVATION}/ppc.h5",
    output:
        png=report(
            f"{FIGURES}/observations/{{recording}}_ppc.png",
            caption="../report/observation_ppc.rst",
            category="Figures",
            subcategory="Observations",
            labels={"recording": "{recording}", "figure": "predictive check"},
        ),
        svg=f"{FIGURES}/observations/{{recording}}_ppc.svg",
    log:
        "results/logs/figures/observations/{recording}_ppc.log",
    benchmark:
        "results/benchmarks/figures/observations/{recording}_ppc.tsv"
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
        posteriors=expand(f"{OBSERVATION}/posterior.h5", recording=RECORDINGS),
    output:
        table=f"{SUMMARY}/observations.csv",
    log:
        "results/logs/observation_summary.log",
    benchmark:
        "results/benchmarks/observation_summary.tsv"
    conda:
        "../../envs/evaluate.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=10,
    script:
        "../../scripts/observation_summary.py"
