# Two commands set everything up on a fresh machine: `make run` and `make test`
# (`make test-fast`: the unit tests alone).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/config.yaml
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG)
# Snakemake reads --configfile files before the workflow's code runs, and reports a YAML
# syntax error, an empty file or a top-level list without naming the file: every file is
# checked first (errors name the file, line and column; config/README.md).
CHECK_CONFIG = $(BIN)/python tools/config_check.py config/config.yaml $(CONFIG)

.PHONY: run test test-fast bench lint report install clean

# Re-install when the dependency pins change. torch first: its CPU build is local here,
# and any dependency resolving torch on its own would pull the CUDA wheels.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else \
	  f"mfnpe-hh needs Python 3.11, 3.12 or 3.13; $(PYTHON) is {sys.version.split()[0]}. " \
	  "Run make with PYTHON=python3.13 (or another supported interpreter).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(CHECK_CONFIG)
	$(SNAKEMAKE) --cores all
	@echo "Results are in results/: figures in results/figures/, tables in results/summary/."

# Every test: the unit tests and the workflow and cluster tiers (tests/tiers.py).
test: $(STAMP)
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --durations=15

# The unit tests alone: no Snakemake run, no SLURM cluster (tests/tiers.py).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --durations=10 -m "not workflow and not cluster"

bench: $(STAMP)
	$(BIN)/python -m mfnpe.bench --schema workflow/schemas/config.schema.yaml \
	  --out results/bench/simulators.json
	$(BIN)/python tools/bench_table.py results/bench/simulators.json docs/results.md

lint: $(STAMP)
	$(CHECK_CONFIG)
	$(SNAKEMAKE) --lint
	$(BIN)/snakefmt --check workflow

# After `make run` (same CONFIG): figures with captions, the workflow and its provenance.
report: $(STAMP)
	$(CHECK_CONFIG)
	$(SNAKEMAKE) --report results/report.html
	@echo "Report: results/report.html (one self-contained HTML file)."

clean:
	rm -rf results .snakemake
