# Two commands set everything up: `make run` serves the site, `make test` tests it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

# The test suite's own PostgreSQL and Redis addresses (override on the command line).
# Its database is test_visits, created and dropped by pytest-django; its Redis keys
# all start with visits-test, and it deletes no others.
TEST_DB_HOST ?= 127.0.0.1
TEST_DB_PORT ?= 5432
TEST_DB_USER ?= postgres
TEST_DB_PASS ?=
TEST_CACHE_HOST ?= 127.0.0.1
TEST_CACHE_PORT ?= 6379

SHELL_SCRIPTS := .ci/run docker/entrypoint docker/up docker/down docker/stack.sh tests/stack/run \
    tests/stack/standins/build $(wildcard tests/stack/standins/*/docker-entrypoint.sh)

.PHONY: run test test-stack lint clean

$(VENV)/.runtime-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

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

test: lint
	env DB_HOST=$(TEST_DB_HOST) DB_PORT=$(TEST_DB_PORT) DB_USER=$(TEST_DB_USER) \
	    DB_PASS=$(TEST_DB_PASS) DB_NAME=visits \
	    CACHE_HOST=$(TEST_CACHE_HOST) CACHE_PORT=$(TEST_CACHE_PORT) CACHE_DB=0 \
	    CACHE_KEY_PREFIX=visits-test DJANGO_SECRET_KEY=test-only-not-secret \
	    $(BIN)/pytest $(PYTEST_ARGS)

# The container suite: real Docker (started for the run if none is), stand-in base
# images where no registry answers. See tests/stack/run.
test-stack: $(VENV)/.dev-installed
	PYTEST=$(BIN)/pytest tests/stack/run $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
