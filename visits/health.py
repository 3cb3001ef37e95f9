"""Probes of the two dependencies, for the readiness endpoint and the entrypoint."""

from dataclasses import dataclass

from django.db import DatabaseError, connection
from redis.exceptions import RedisError

from visits import visit_counter


@dataclass(frozen=True)
class DependencyState:
    product: str
    up: bool
    problem: str = ""

    def as_dict(self) -> dict[str, str]:
        # "engine" is the key /readyz has always answered with; scripts read it.
        return {"engine": self.product, "state": "up" if self.up else "down"}


def database_state() -> DependencyState:
    """Up when the database answers a query (open ports are not enough)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        # A failed query leaves the connection unusable; the next probe reconnects.
        connection.close_if_unusable_or_obsolete()
        return DependencyState(product=connection.display_name, up=False, problem=str(error))
    return DependencyState(product=connection.display_name, up=True)


def cache_state() -> DependencyState:
    """Up when Redis answers PING."""
    try:
        visit_counter.redis_cache().client.get_client(write=True).ping()
    except (RedisError, OSError) as error:
        return DependencyState(product=visit_counter.product_name(), up=False, problem=str(error))
    return DependencyState(product=visit_counter.product_name(), up=True)
