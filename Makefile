# Two commands set everything up: `make run` serves the site, `make test` tests it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

# The PostgreSQL and Redis that `make test` and `make bench` use (override on the
# command line). Where one does not answer, `make test` starts a throwaway one for
# the run (tests/support/services.py); PG_BINDIR names the folder of initdb and
# pg_ctl where they are neither on PATH nor where Debian puts them. The tests' database is
# test_visits, created and dropped by pytest-django, the benchmark's visits_bench;
# each touches only Redis keys under its own prefix (visits-test, visits_bench).
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_USER ?= postgres
PG_PASS ?=
REDIS_HOST ?= 127.0.0.1
REDIS_PORT ?= 6379
SERVICES := DB_HOST=$(PG_HOST) DB_PORT=$(PG_PORT) DB_USER=$(PG_USER) DB_PASS=$(PG_PASS) \
    CACHE_HOST=$(REDIS_HOST) CACHE_PORT=$(REDIS_PORT)

SHELL_SCRIPTS := .ci/run docker/entrypoint docker/up docker/down docker/make-secrets docker/stack.sh \
    tests/stack/run \
    tests/stack/standins/build $(wildcard tests/stack/standins/*/docker-entrypoint.sh)

.PHONY: run test test-stack soak bench screenshots lint clean

$(VENV)/.runtime-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# axe-core, which the browser tests inject into pages to check accessibility.
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent

run: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_superuser
	exec $(BIN)/gunicorn --config gunicorn.conf.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck --external-sources $(SHELL_SCRIPTS)
	$(BIN)/hadolint Dockerfile tests/stack/standins/*/Dockerfile

test: lint tests/browser/node_modules/.package-lock.json
	env $(SERVICES) DB_NAME=visits CACHE_DB=0 CACHE_KEY_PREFIX=visits-test \
	    DJANGO_SECRET_KEY=test-only-not-secret \
	    $(BIN)/python -m tests.support.services $(BIN)/pytest $(PYTEST_ARGS)

# Throughput and latency against two baselines; see docs/benchmark.md.
# BENCH_ARGS, e.g. --rows 10000000, or --smoke for a few seconds.
bench: $(VENV)/.dev-installed
	env $(SERVICES) $(BIN)/python -m bench $(BENCH_ARGS)

# The browser tests again, saving their screenshots for the README.
screenshots: $(VENV)/.dev-installed tests/browser/node_modules/.package-lock.json
	env $(SERVICES) DB_NAME=visits CACHE_DB=0 CACHE_KEY_PREFIX=visits-test \
	    DJANGO_SECRET_KEY=test-only-not-secret VISITS_SCREENSHOTS=docs/screenshots \
	    $(BIN)/python -m tests.support.services $(BIN)/pytest tests/test_browser.py

# The container suite: real Docker (started for the run if none is), stand-in base
# images where no registry answers. See tests/stack/run.
test-stack: $(VENV)/.dev-installed
	PYTEST=$(BIN)/pytest tests/stack/run $(PYTEST_ARGS)

# The soak test for five minutes (tests/stack/soak.py), writing its timeline
# into docs/; `make test-stack` runs it for 90 seconds.
soak: $(VENV)/.dev-installed
	SOAK_SECONDS=300 SOAK_TIMELINE=docs/soak/timeline.svg PYTEST=$(BIN)/pytest \
	    tests/stack/run -k test_soak -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache tests/browser/node_modules
