# cqc-research: two commands on a fresh machine with Python 3.11+.
#   make reports   set up, then run every notebook on the embedded synthetic data into outputs/
#   make test      set up, then run the test suite (what .ci/run calls)
#   make docs      the documentation site, offline, into docs/_build/html/ (gallery executed once, cached)
# Setting up creates .venv from pyproject.toml once; later runs reuse it (a no-op).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cqc-research-installed
WORKERS ?= 2
# Every extra, so that the tests of each feature (Dask batches, JupyterLab, the docs site, the
# wheel round trip) find what they use.
EXTRAS ?= dev,browser,cluster,lab,docs,release,fingertips

.PHONY: test-fuzz test-nulls test-realformats setup reports test test-slow test-browser test-wheel docs dist lab lint synth clean-outputs help

help:
	@echo "make reports       run every notebook on the embedded data into outputs/<run-id>/"
	@echo "make test          run the test suite"
	@echo "make test-slow     run the heavier suites (national-scale data, long batches)"
	@echo "make test-fuzz     mutate real and synthetic files by the thousand: every reader answers cleanly"
	@echo "make test-browser  drive JupyterLab and a report in headless Chromium"
	@echo "make lab           open JupyterLab on notebooks/ with the cqc-research kernel"
	@echo "make lint          ruff, and a check that notebooks carry no outputs"
	@echo "make docs          build the documentation site into docs/_build/html/ (offline)"
	@echo "make dist          build the sdist and wheel into dist/ and run twine check"
	@echo "make test-wheel    build the wheel, install it in a fresh venv, init a study, run notebooks"
	@echo "make test-nulls    remove each planted effect in turn: its truth check, and only its, fails"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
	  || { echo "cqc-research needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/python -m ipykernel install --sys-prefix --name cqc-research \
	  --display-name "Python (cqc-research)" > /dev/null
	@touch $(STAMP)

setup: $(STAMP)

reports: $(STAMP)
	@$(BIN)/cqc-research run --workers $(WORKERS)

synth: $(STAMP)
	$(BIN)/cqc-research synth

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# Seeded mutations of every real sample and synthetic file (issue 28; bounds in docs/guide/data_formats.md)
test-fuzz: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/test_fuzz.py

test-wheel: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/test_package.py

# Each planted effect removed on its own (synth --null EFFECT): its truth check, and only its, fails.
test-nulls: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/test_truth.py tests/test_gpps_fft.py

docs: $(STAMP)
	$(BIN)/python docs/build.py $(DOCS_ARGS)

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

lab: $(STAMP)
	$(BIN)/python -c "from cqc_research.synthetic import ensure_default_data; ensure_default_data()"
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

test-browser: $(STAMP)
	$(BIN)/python -m pytest -m browser

test-realformats: $(STAMP)
	$(BIN)/python -m pytest -m realformats

lint: $(STAMP)
	$(BIN)/ruff check cqc_research tests benchmarks notebooks
	$(BIN)/nbstripout --verify --keep-id notebooks/*.ipynb notebooks/*/*.ipynb notebooks/*/*/*.ipynb

clean-outputs:
	rm -rf outputs/*/ data/processed/cache
