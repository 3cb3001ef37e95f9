"""Probes of the two dependencies, for the readiness endpoint and the entrypoint."""

from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import DatabaseError, connection
from django_redis.cache import RedisCache
from redis.exceptions import RedisError

from visits import visit_counter


@dataclass(frozen=True)
class DependencyState:
    engine: str
    up: bool
    problem: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "state": "up" if self.up else "down"}


def database_state() -> DependencyState:
    """Up when the database answers a query (open ports are not enough)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        # A failed query leaves the connection unusable; the next probe reconnects.
        connection.close_if_unusable_or_obsolete()
        return DependencyState(engine=connection.display_name, up=False, problem=str(error))
    return DependencyState(engine=connection.display_name, up=True)


def cache_state() -> DependencyState:
    """Up when Redis answers PING; the local-memory cache is always up."""
    cache = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        try:
            cache.client.get_client(write=True).ping()
        except (RedisError, OSError) as error:
            return DependencyState(engine=visit_counter.engine_name(), up=False, problem=str(error))
    return DependencyState(engine=visit_counter.engine_name(), up=True)
