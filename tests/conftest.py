"""
Fixtures shared by the suite; the helpers behind them live in tests.support.

Tests of pure modules need no service. Every test that uses the database (the
django_db marker or a fixture that needs it), or starts gunicorn, gets the real
PostgreSQL and Redis the environment names (`make test` sets them), checked once,
and starts with no visit counted; a test that uses only the cache asks for that
with the fresh_counter fixture. The suite refuses the settings' default hosts
(DB_HOST and CACHE_HOST must be set), and touches only the Redis keys under its
own prefix.

Tests that start processes (gunicorn, nginx, PostgreSQL, Redis, manage.py, a
browser, tools) carry the `processes` marker: `pytest -m "not processes"` skips
them. Those using the fixtures that start processes get it here.
"""

import secrets

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from devservices.servers import PrivatePostgres, PrivateRedis, free_port
from tests.support.database import postgres_admin
from tests.support.servers import GunicornServer
from visits_project.env import env_str

TEST_KEY_PREFIX = "visits-test"

# The fixtures that start a process (tls_proxy and open_browser are their test
# files' own); test files that start processes throughout mark themselves.
PROCESS_FIXTURES = {
    "start_gunicorn",
    "gunicorn",
    "private_redis",
    "private_postgres",
    "tls_proxy",
    "open_browser",
}
# Using any of these means using the real PostgreSQL and Redis.
SERVICE_FIXTURES = {"db", "transactional_db", "start_gunicorn", "fresh_counter"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.processes)


@pytest.fixture(autouse=True)
def services_where_used(request: pytest.FixtureRequest) -> None:
    """The real services, and a counter without visits, for the tests that use them only."""
    test = request.node
    if test.get_closest_marker("django_db") or SERVICE_FIXTURES & set(test.fixturenames):
        request.getfixturevalue("fresh_counter")
        request.getfixturevalue("collected_static")


@pytest.fixture(scope="session")
def real_services() -> None:
    """Stops the run unless the environment names PostgreSQL and Redis, and the tests' prefix."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    if not (env_str("DB_HOST") and env_str("CACHE_HOST")):
        pytest.exit(
            "The tests need a real PostgreSQL and Redis: run `make test`, or set DB_HOST "
            "and CACHE_HOST (see README.md).",
            returncode=2,
        )
    if prefix != TEST_KEY_PREFIX:
        pytest.exit(
            f"CACHE_KEY_PREFIX is {prefix!r}; the tests only run with {TEST_KEY_PREFIX!r}, "
            "so that they never touch a real counter: run `make test`.",
            returncode=2,
        )


@pytest.fixture(scope="session")
def collected_static(django_db_blocker) -> None:
    """Templates name hashed static files, which exist once collectstatic has run."""
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture
def fresh_counter(real_services):
    """The test starts with no visit counted, deleting only the suite's own keys."""
    cache.delete_pattern("*")
    yield
    cache.delete_pattern("*")


@pytest.fixture
def start_gunicorn(tmp_path, real_services):
    """Starts real gunicorn servers with extra environment; stops them afterwards."""
    started: list[GunicornServer] = []

    def start(**environment: str) -> GunicornServer:
        server = GunicornServer(
            port=free_port(),
            log_path=tmp_path / f"gunicorn-{len(started)}.log",
            environment=environment,
        )
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def gunicorn(transactional_db, start_gunicorn):
    """Starts gunicorn on the test database, whose rows the test then sees committed."""

    def start(**environment: str) -> GunicornServer:
        return start_gunicorn(DB_NAME=connection.settings_dict["NAME"], **environment)

    return start


@pytest.fixture
def empty_database(real_services):
    """A database of the test's own, dropped afterwards."""
    name = f"visits_test_empty_{secrets.token_hex(4)}"
    admin = postgres_admin()
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def unreachable_cache(settings) -> None:
    """The default cache, pointed at a port where no Redis listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "KEY_PREFIX": TEST_KEY_PREFIX,
        }
    }


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.remove()


@pytest.fixture
def private_postgres():
    postgres = PrivatePostgres()
    postgres.start()
    yield postgres
    postgres.remove()
