"""visits/health.py: the probes /readyz asks, against the real services."""

import pytest

from devservices.servers import free_port
from visits.health import DependencyState, cache_state, database_state

pytestmark = pytest.mark.django_db


def test_database_state_up_when_postgresql_answers_a_query():
    assert database_state() == DependencyState(product="PostgreSQL", up=True)


def test_cache_state_up_when_redis_answers_ping():
    assert cache_state() == DependencyState(product="Redis", up=True)


def test_cache_state_down_when_nothing_answers_says_why(settings):
    port = free_port()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "KEY_PREFIX": "visits-test",
        }
    }

    assert cache_state() == DependencyState(
        product="Redis",
        up=False,
        problem=f"Error 111 connecting to 127.0.0.1:{port}. Connection refused.",
    )


def test_dependency_state_as_dict_keeps_the_engine_key_scripts_read():
    assert DependencyState(product="Redis", up=False, problem="x").as_dict() == {
        "engine": "Redis",
        "state": "down",
    }
