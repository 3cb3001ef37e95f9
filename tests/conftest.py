"""
Fixtures shared by the suite. Every test talks to the real PostgreSQL and Redis
named by the environment (`make test` sets them); the suite refuses to run on
the settings' default hosts (DB_HOST and CACHE_HOST must be set), and touches
only the Redis keys under its own prefix.
"""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from devservices.servers import PrivatePostgres, PrivateRedis, free_port
from tests.servers import GunicornServer
from visits_project.env import env_str

TEST_KEY_PREFIX = "visits-test"


def pytest_configure(config: pytest.Config) -> None:
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


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_db_blocker) -> None:
    """Templates name hashed static files, which exist once collectstatic has run."""
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture(autouse=True)
def fresh_counter():
    """Each test starts with no visit counted, deleting only the suite's own keys."""
    cache.delete_pattern("*")
    yield
    cache.delete_pattern("*")


@pytest.fixture
def start_gunicorn(tmp_path):
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


def add_to_slot(slot: int, amount: int) -> None:
    """Change one slot of the access count behind the triggers' back, as a manual edit would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_accesscount AS counted (slot, count) VALUES (%s, %s) "
            "ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count",
            [slot, amount],
        )
