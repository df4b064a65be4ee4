# The README's commands. Everything installs into ./.venv; nothing else needs to be running.
#   make run    install the service and start it on http://127.0.0.1:8000 (bundled model, ./data)
#   make test   install the test extras (and system packages the tests need), then lint + type-check + test
#   make test-fast  the tests without real processes, browsers and kills, for the edit-test loop
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# The tests' converted-model cache, kept between runs (tests/conftest.py); empty it with `make clean`.
export SEMSEARCH_TEST_MODEL_CACHE ?= $(CURDIR)/$(VENV)/test-model-cache

.PHONY: help install install-test run test test-fast test-scifact test-qdrant lint typecheck pytest bench eval eval-precision docs clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	# torch first and pinned: pip takes the CPU build of 2.13.0 from this machine's wheel folder
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .
	touch $@

# (fonts-wqy-microhei: a Chinese font the tests render a scan with)
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-chi-sim \
  fonts-wqy-microhei

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	# The browser tests drive Debian's Chromium through Playwright (no browser is ever downloaded).
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "note: /usr/bin/chromium is missing; tests/browser will be skipped (as root: apt-get install -y chromium)"; fi; \
	fi
	# OCR (images, scanned PDFs) runs Debian's Tesseract, with the languages the tests read.
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim \
	    || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends $(OCR_PACKAGES); \
	  else echo "note: Tesseract is missing; the OCR tests will be skipped (as root: apt-get install -y $(OCR_PACKAGES))"; fi; \
	fi
	touch $@

install: $(VENV)/.installed  ## install the service into .venv

install-test: $(VENV)/.installed-test  ## install the service and the test tools into .venv

run: install  ## start the API and web page on SEMSEARCH_HOST:SEMSEARCH_PORT (default 127.0.0.1:8000)
	$(BIN)/semsearch serve

lint: install-test  ## ruff
	$(BIN)/ruff check app indexer tests benchmarks docs

typecheck: install-test  ## mypy
	$(BIN)/mypy

# The suite runs on PYTEST_WORKERS processes (pytest-xdist), a whole file per worker so module-scoped
# servers and collections are built once; each worker loads the model once. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
PYTEST_XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadfile)

pytest: install-test  ## the test suite on PYTEST_WORKERS (2) processes; prints the 15 slowest tests
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) --durations=15

test-fast: install-test  ## the suite without real servers, CLI processes, browsers, Ray and kills (-m "not slow")
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) -m "not slow" --durations=10

test: lint typecheck pytest  ## everything CI runs

SEMSEARCH_SCIFACT ?= $(abspath ../shared/data/scifact)
test-scifact: install-test  ## the opt-in checks on SciFact (SEMSEARCH_SCIFACT=<folder>, default ../shared/data/scifact)
	SEMSEARCH_SCIFACT=$(SEMSEARCH_SCIFACT) $(BIN)/python -m pytest -q -m scifact

SEMSEARCH_TEST_QDRANT_URL ?= http://127.0.0.1:6333
test-qdrant: install-test  ## the store contract suite and the replica test against a real Qdrant server (compose profile qdrant)
	SEMSEARCH_TEST_QDRANT_URL=$(SEMSEARCH_TEST_QDRANT_URL) $(BIN)/python -m pytest -q \
	  tests/indexer/stores tests/e2e/test_qdrant_store.py

bench: install  ## performance benchmark against plain sentence-transformers + FAISS
	$(BIN)/semsearch bench

docs: install  ## rewrite the generated parts of docs/ (API, CLI, settings) from the code
	$(BIN)/python docs/generate.py

clean:  ## remove the virtual environment and caches (not ./data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

-include mk/*.mk

.PHONY: docker-smoke
docker-smoke:  ## build the container image with podman, run it, index docker/example and query it
	bash docker/smoke.sh
