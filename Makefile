# Two commands set everything up on a fresh machine: `make run` and `make test`
# (`make test-fast`: the unit tests alone).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/config.yaml
# The output folder (config key out, default results): `make run OUT=folder` writes every
# file of the run under folder/; `make report OUT=folder` reads that run. Unset, the
# config's own `out` holds.
OUT ?=
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) \
  $(if $(OUT),--config out=$(OUT))
# Snakemake reads --configfile files before the workflow's code runs, and reports a YAML
# syntax error, an empty file or a top-level list without naming the file: every file is
# checked first (errors name the file, line and column; config/README.md), and the output
# folder with them.
CHECK_CONFIG = $(BIN)/python tools/config_check.py config/config.yaml $(CONFIG) \
  $(if $(OUT),--out $(OUT))

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
	OMP_NUM_THREADS=1 $(BIN)/python -m mfnpe.simulation.compile  # numba's kernels, once
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(CHECK_CONFIG)
	$(SNAKEMAKE) --cores all
	@out=$$($(CHECK_CONFIG) --print-out) && \
	  echo "Results are in $$out/: figures in $$out/figures/, tables in $$out/summary/."

# Every test: the unit tests and the workflow and cluster tiers (tests/tiers.py).
test: $(STAMP)
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# The unit tests alone: no Snakemake run, no SLURM cluster (tests/tiers.py).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -n 2 --dist loadfile --no-loadscope-reorder --durations=10 -m "not workflow and not cluster"

bench: $(STAMP)
	@out=$$($(CHECK_CONFIG) --print-out) && set -x && \
	  $(BIN)/python -m mfnpe.bench --schema workflow/schemas/config.schema.yaml \
	    --out $$out/bench/simulators.json && \
	  $(BIN)/python tools/bench_table.py $$out/bench/simulators.json docs/results.md

lint: $(STAMP)
	$(CHECK_CONFIG)
	$(SNAKEMAKE) --lint
	$(BIN)/snakefmt --check workflow

# After `make run` (same CONFIG): figures with captions, the workflow and its provenance.
report: $(STAMP)
	$(CHECK_CONFIG)
	@out=$$($(CHECK_CONFIG) --print-out) && set -x && \
	  $(SNAKEMAKE) --report $$out/report.html && \
	  echo "Report: $$out/report.html (one self-contained HTML file; what the run found first)."

# Removes the output folder only when it is a run's (it holds config.yaml and logs/).
clean:
	@out=results; [ ! -x $(BIN)/python ] || out=$$($(CHECK_CONFIG) --print-out) || exit 1; \
	  if [ -f "$$out/config.yaml" ] && [ -d "$$out/logs" ]; then set -x; rm -rf "$$out"; \
	  else echo "$$out/ is no run's output folder (no config.yaml and logs/): left alone"; fi
	rm -rf .snakemake
