# The README's commands. Each target sets itself up: a fresh clone needs only Python 3.11+.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/shared
export PIP_DISABLE_PIP_VERSION_CHECK := 1

ENV ?= dev
USER ?= alice
KYC ?= BASIC
ROLES ?= user
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint templates browser unit integration e2e faults bench token build deploy clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/dependencies/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed ## create the virtualenv with everything run/test/bench need

run: venv ## serve the whole API on http://127.0.0.1:$${PORT:-3000} (moto as AWS, no Docker)
	$(PY) -m local

token: venv ## print a dev JWT: make token USER=alice KYC=BASIC ROLES=user,admin
	@$(PY) -m local.dev_token --user "$(USER)" --kyc "$(KYC)" --roles "$(ROLES)"

lint: venv ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ASL_VALIDATOR ?= asl-validator@4.0.0

templates: venv ## cfn-lint on template.yaml (what `sam validate --lint` runs) and the state machines
	$(BIN)/cfn-lint template.yaml
	@command -v npx >/dev/null 2>&1 || { echo "npx (Node.js) is needed to validate statemachines/*.asl.json"; exit 1; }
	npx --yes $(ASL_VALIDATOR) $(foreach f,$(wildcard statemachines/*.asl.json),--json-path $(f))

browser: ## Debian's chromium for the checkout-page test (installed when running as root, else skipped)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for the checkout browser test"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: the checkout browser test will be skipped (apt-get install chromium)"; fi; }

test: lint templates browser ## lint, template checks and the whole test suite (the fault sweep included)
	$(PY) -m pytest -n 2 -m "not faults" $(PYTEST_ARGS)
	$(PY) -m tests.faults

faults: venv ## the fault sweep alone: every flow x boundary x fault, then recovery; prints the counts
	$(PY) -m tests.faults

unit: venv ## only the fast unit tests
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

bench: venv ## cold-start import ratios, AWS calls per request, layer sizes
	$(PY) -m bench

build: ## sam build (needs aws-sam-cli and python3.13 on PATH; see README)
	sam build

deploy: build ## sam deploy to $(ENV) (samconfig.toml)
	sam deploy --config-env $(ENV)

clean: ## remove the virtualenv and build output
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis
