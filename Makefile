# GAL Live. Two commands matter: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# daphne (default) or uvicorn, the faster supported alternative (docs/performance.md).
SERVER ?= daphne
# The PostgreSQL and Redis used by the second test pass (and by CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run install dev-install migrate test test-js test-sqlite test-services lint typecheck bench bench-standings soak clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev-install: $(VENV)/.dev-installed

# Development server: DEBUG on (so a development SECRET_KEY is allowed), SQLite and the
# in-memory channel layer unless DATABASE_URL / REDIS_URL say otherwise.
run: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py collectstatic --noinput --verbosity 0
# gal_dashboard.serve adds each server's own message size limit (--ws-max-size for uvicorn,
# --websocket-max-message-size for daphne) from WS_MAX_MESSAGE_BYTES; see realtime/limits.py.
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
# npm packages. Without node they are skipped, except in CI (CI=true), where that is an error.
NODE ?= node
test-js:
	@if command -v $(NODE) >/dev/null 2>&1; then \
		echo "== browser client: $(NODE) --test tests/js/"; \
		$(NODE) --test tests/js/; \
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

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	@touch $(VENV)/.installed $(VENV)/.dev-installed $@

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
	rm -rf $(VENV) var/static var/bench .pytest_cache .mypy_cache .ruff_cache
