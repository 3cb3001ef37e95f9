"""Probes of the two dependencies, for the readiness endpoint."""

import logging
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import DatabaseError, connection
from django_redis.cache import RedisCache
from redis.exceptions import RedisError

from visits import visit_counter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DependencyState:
    engine: str
    up: bool

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "state": "up" if self.up else "down"}


def database_state() -> DependencyState:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        up = True
    except DatabaseError as error:
        logger.warning("Readiness: the database does not answer (%s).", error)
        up = False
    return DependencyState(engine=connection.display_name, up=up)


def cache_state() -> DependencyState:
    cache = caches[DEFAULT_CACHE_ALIAS]
    up = True
    if isinstance(cache, RedisCache):
        try:
            cache.client.get_client(write=True).ping()
        except RedisError as error:
            logger.warning("Readiness: the cache does not answer (%s).", error)
            up = False
    return DependencyState(engine=visit_counter.engine_name(), up=up)
