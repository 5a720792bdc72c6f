# GAL Live. Two commands matter: `make run` and `make test`. See README.md.
SHELL := /bin/bash
# Python 3.11, 3.12 or 3.13: the newest of python3.13, python3.12, python3.11 on the PATH that
# runs (a pyenv shim of a version pyenv has not selected does not), or PYTHON=/path/to/python3.x.
# An existing $(VENV) keeps the Python it was made with: `make clean` to change it.
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11
ifndef PYTHON
PYTHON := $(firstword $(foreach candidate,$(SUPPORTED_PYTHONS),$(shell $(candidate) -c "" >/dev/null 2>&1 && echo $(candidate))))
endif
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# daphne (default) or uvicorn, the faster supported alternative (docs/performance.md).
SERVER ?= daphne
# The PostgreSQL and Redis used by the second test pass (and by CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run install dev-install migrate test test-js test-sqlite test-services lint typecheck lock bench bench-standings soak clean

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "GAL Live needs Python 3.11, 3.12 or 3.13, and none of $(SUPPORTED_PYTHONS) runs here."; \
		echo "Install one (your system's python3 with python3-venv, or pyenv install 3.13), or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.13"; \
		exit 1; \
	fi
	@$(PYTHON) -c "import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))" 2>/dev/null || { \
		echo "PYTHON=$(PYTHON) is not Python 3.11, 3.12 or 3.13 (it says: $$($(PYTHON) -V 2>&1))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs exactly the locked versions (requirements/*.txt, with hashes: see README.md,
# "Dependencies"), then the project itself, editable, without resolving anything. `pip check`
# fails when pyproject.toml names a dependency the lock lacks: run `make lock`.
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "requirements/run.txt is out of date with pyproject.toml: make lock"; exit 1; }
	@touch $@

$(VENV)/.dev-installed: requirements/dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "requirements/dev.txt is out of date with pyproject.toml: make lock"; exit 1; }
	@touch $(VENV)/.installed $@

# Re-resolves the lock files from pyproject.toml, every package at its newest allowed version,
# for Python 3.11 to 3.13 at once (uv's universal resolution; pip installs the result). The
# runtime lock takes the development lock's versions, so one venv can hold both. It needs only
# uv (pinned in the dev lock), not an install that matches pyproject.toml: after a dependency is
# added there, `make lock` is what makes the install possible again.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --generate-hashes \
	--python-version 3.11 --custom-compile-command "make lock"
lock: | $(BIN)/python
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(UV_COMPILE) --upgrade --extra dev -o requirements/dev.txt
	$(UV_COMPILE) --extra uvicorn --constraint requirements/dev.txt -o requirements/run.txt

install: $(VENV)/.installed

dev-install: $(VENV)/.dev-installed

# Development server: DEBUG on (so a development SECRET_KEY is allowed), SQLite and the
# in-memory channel layer unless DATABASE_URL / REDIS_URL say otherwise.
run: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
# gal_dashboard.serve adds each server's own message size limit (--ws-max-size for uvicorn,
# --websocket-max-message-size for daphne) from WS_MAX_MESSAGE_BYTES; see realtime/connection/limits.py.
ifeq ($(SERVER),uvicorn)
	DEBUG=$${DEBUG:-true} $(BIN)/python -m gal_dashboard.serve uvicorn --host $(HOST) --port $(PORT) \
		--ws websockets --lifespan off gal_dashboard.asgi:application
else
	DEBUG=$${DEBUG:-true} $(BIN)/python -m gal_dashboard.serve -b $(HOST) -p $(PORT) gal_dashboard.asgi:application
endif

lint: dev-install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev-install
	DEBUG=true $(BIN)/mypy .

# The browser client's unit tests (realtime/static/realtime/*.js): Node's own test runner, no
# npm packages, with the dot reporter (a dot per test; failures in full at the end; the TAP of
# `make test-js NODE_REPORTER=spec` lists every test by name). Without node they are skipped, except in CI (CI=true), where that is an error.
NODE ?= node
NODE_REPORTER ?= dot
test-js:
	@if command -v $(NODE) >/dev/null 2>&1; then \
		echo "== browser client: $(NODE) --test tests/js/"; \
		$(NODE) --test --test-reporter=$(NODE_REPORTER) tests/js/ && echo; \
	elif [ "$$CI" = "true" ]; then \
		echo "$(NODE) not found: the browser client's tests (tests/js/) need Node.js 20 or later, and CI must run them"; \
		exit 1; \
	else \
		echo "== SKIPPED tests/js/ (the browser client): $(NODE) not found; install Node.js 20 or later to run them"; \
	fi

# The SQLite + in-memory pass; tests that need PostgreSQL or Redis skip and say how to enable them.
test-sqlite: dev-install
	$(BIN)/pytest

# The PostgreSQL + Redis pass.
test-services: dev-install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest

# Lint, types, the browser client's tests, then the suite: on SQLite, and again on
# PostgreSQL + Redis when they answer (with CI=true they must).
test: dev-install lint typecheck test-js
	@if [ "$$CI" = "true" ] || $(BIN)/python -m gal_dashboard.services_check $(TEST_DATABASE_URL) $(TEST_REDIS_URL); then \
		echo "== pass 1: SQLite + in-memory channel layer"; \
		GAL_SERVICES_PASS=later $(BIN)/pytest && \
		echo "== pass 2: PostgreSQL + Redis" && \
		DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest; \
	else \
		echo "== SQLite + in-memory only: PostgreSQL or Redis not reachable (tests that need them skip)"; \
		$(BIN)/pytest; \
	fi

# The benchmark clients (picows, uvloop, orjson) are not locked: they never run in production.
$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(BIN)/pip install --quiet -e ".[bench]"
	@touch $@

# Fan-out benchmark against a raw websockets ceiling, then the standings benchmark; see
# docs/performance.md.
# Options: make bench BENCH_ARGS="--scenario rate --subscribers 1000 --rate 20"
#          make bench BENCH_STANDINGS_ARGS="--saves 40"
bench: $(VENV)/.bench-installed
	$(BIN)/python bench/fanout.py $(BENCH_ARGS)
	$(BIN)/python bench/standings_bench.py $(BENCH_STANDINGS_ARGS)

# The standings alone (issue 13): recomputing a 64-player x 8-round event (also on PostgreSQL
# when DATABASE_URL names one), and one lobby save reaching 1,000 subscribed overlays.
# Options: make bench-standings BENCH_STANDINGS_ARGS="--part fanout --subscribers 1000 --saves 40"
bench-standings: $(VENV)/.bench-installed
	$(BIN)/python bench/standings_bench.py $(BENCH_STANDINGS_ARGS)

# Reconnect storms against two daphne processes with PostgreSQL and Redis; not part of `make test`.
# Options: make soak SOAK_ARGS="--clients 500 --duration 300"
soak: $(VENV)/.bench-installed
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .venv-3.1[123] var/static var/bench .pytest_cache .mypy_cache .ruff_cache
