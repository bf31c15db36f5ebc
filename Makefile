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
.PHONY: help venv run test lint templates checkov browser unit integration e2e faults iam smoke reconcile reconcile-gateways replay-events audit-verify openapi bench token build deploy clean

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

SECRET ?=
token: venv ## print a dev JWT: make token USER=alice KYC=BASIC ROLES=user,admin [SECRET=<deployed JwtSecret value>]
	@$(PY) -m local.dev_token --user "$(USER)" --kyc "$(KYC)" --roles "$(ROLES)" --secret "$(SECRET)"

lint: venv ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ASL_VALIDATOR ?= asl-validator@4.0.0

templates: venv ## cfn-lint on template.yaml (what `sam validate --lint` runs) and the state machines
	$(BIN)/cfn-lint template.yaml
	@command -v npx >/dev/null 2>&1 || { echo "npx (Node.js) is needed to validate statemachines/*.asl.json"; exit 1; }
	npx --yes $(ASL_VALIDATOR) $(foreach f,$(wildcard statemachines/*.asl.json),--json-path $(f))

# checkov has its own virtualenv: its pins are not the app's.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30

$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

checkov: $(CHECKOV_VENV)/.installed ## security lint of template.yaml (skips and their reasons: .checkov.yaml, resource Metadata)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --config-file .checkov.yaml

browser: ## Debian's chromium for the checkout-page test (installed when running as root, else skipped)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for the checkout browser test"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: the checkout browser test will be skipped (apt-get install chromium)"; fi; }

# Every AWS call the tests make is checked against the calling function's role (local/iam.py) and
# traced here; the report then fails on a statement no test needed (least privilege).
IAM_TRACE := .iam-trace

test: lint templates checkov browser ## lint, template checks, the whole test suite (fault sweep included), the IAM report
	rm -rf $(IAM_TRACE) && mkdir -p $(IAM_TRACE)
	IAM_TRACE_DIR=$(CURDIR)/$(IAM_TRACE) $(PY) -m pytest -n 2 -m "not faults" $(PYTEST_ARGS)
	IAM_TRACE_DIR=$(CURDIR)/$(IAM_TRACE) $(PY) -m tests.faults
	$(PY) -m local.iam $(IAM_TRACE) > $(IAM_TRACE)/report.txt || { cat $(IAM_TRACE)/report.txt; exit 1; }
	$(PY) -m local.iam $(IAM_TRACE) --mutations > $(IAM_TRACE)/mutations.txt || { cat $(IAM_TRACE)/mutations.txt; exit 1; }
	@tail -qn 1 $(IAM_TRACE)/report.txt $(IAM_TRACE)/mutations.txt

iam: venv ## the IAM check alone: run every test that invokes a function, then per function the calls and the statements allowing them
	rm -rf $(IAM_TRACE) && mkdir -p $(IAM_TRACE)
	IAM_TRACE_DIR=$(CURDIR)/$(IAM_TRACE) $(PY) -m pytest -n 2 -m "not faults" tests/integration tests/e2e $(PYTEST_ARGS)
	IAM_TRACE_DIR=$(CURDIR)/$(IAM_TRACE) $(PY) -m tests.faults
	$(PY) -m local.iam $(IAM_TRACE)
	$(PY) -m local.iam $(IAM_TRACE) --mutations

faults: venv ## the fault sweep alone: every flow x boundary x fault, then recovery; prints the counts
	$(PY) -m tests.faults

unit: venv ## only the fast unit tests
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

openapi: venv ## regenerate docs/openapi.json, docs/events/*.json and the TypeScript types from the code (tests fail when stale)
	$(PY) -m local.openapi
	$(PY) -m local.event_schemas
	cd clients/typescript && { test -d node_modules || npm ci --no-progress; } && npm run --silent generate

bench: venv ## cold-start import ratios, AWS calls per request, layer sizes
	$(PY) -m bench

# `sam` from PATH, else a pinned SAM CLI in its own virtualenv. The build needs the runtime's
# Python (3.13) for bytecode: scripts/lambda-python finds it (PATH, pyenv, uv) or says how to get it.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := $(shell command -v sam 2>/dev/null || echo $(SAM_VENV)/bin/sam)

$(SAM_VENV)/bin/sam:
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

build: $(if $(findstring $(SAM_VENV),$(SAM)),$(SAM_VENV)/bin/sam) ## sam build for Lambda (arm64, Python 3.13), functions' bytecode included
	@lambda_python=$$(scripts/lambda-python) || exit 1; \
	  echo "building with $$lambda_python"; \
	  PATH="$$(dirname "$$lambda_python"):$$PATH" LAMBDA_PYTHON="$$lambda_python" $(SAM) build && \
	  "$$lambda_python" scripts/stamp_build.py .aws-sam/build && \
	  "$$lambda_python" -m compileall -q -f --invalidation-mode unchecked-hash .aws-sam/build/*Function

deploy: build ## sam deploy to $(ENV) (samconfig.toml; ENV=ci deploys without a confirmation prompt)
	$(SAM) deploy --config-env $(ENV)

STACK ?=
reconcile: venv ## wallets vs their ledger entries and overdue in-flight money: make run's stack, or STACK=<deployed stack>
	$(PY) scripts/reconcile.py $(if $(STACK),--stack-name "$(STACK)",--url http://127.0.0.1:$${PORT:-3000})

reconcile-gateways: venv ## our completed money vs each gateway's records for SINCE..UNTIL (YYYY-MM-DD, UNTIL excluded): make run's stack, or STACK=<deployed stack>
	$(PY) scripts/reconcile.py --gateways --since "$(SINCE)" --until "$(UNTIL)" $(if $(STACK),--stack-name "$(STACK)",--url http://127.0.0.1:$${PORT:-3000})

replay-events: venv ## publish again the domain events Lambda gave up on (DomainEventsFailuresQueue): make run's stack, or STACK=<deployed stack>
	$(PY) scripts/reconcile.py --replay-events $(if $(STACK),--stack-name "$(STACK)",--url http://127.0.0.1:$${PORT:-3000})

audit-verify: venv ## walk every audit hash chain, check every ledger entry has its record: make run's stack, or STACK=<deployed stack>
	$(PY) scripts/audit_verify.py $(if $(STACK),--stack-name "$(STACK)",--url http://127.0.0.1:$${PORT:-3000})

URL ?=
TOKEN ?=
smoke: venv ## check a deployed stack end to end: make smoke URL=<ApiUrl output> TOKEN=<JWT>
	@test -n "$(URL)" -a -n "$(TOKEN)" || { echo "usage: make smoke URL=<the stack's ApiUrl> TOKEN=<a JWT it accepts>"; exit 2; }
	$(PY) scripts/smoke.py --url "$(URL)" --token "$(TOKEN)"

clean: ## remove the virtualenvs and build output
	rm -rf $(VENV) $(CHECKOV_VENV) $(SAM_VENV) $(IAM_TRACE) .aws-sam .pytest_cache .ruff_cache .hypothesis
