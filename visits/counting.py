"""Counting a page view, and reading the two numbers the page shows."""

from dataclasses import dataclass

from django.db import connection

from visits import access_queries, metrics, visit_counter


@dataclass(frozen=True)
class Counts:
    accesses: int
    visits: int | None  # None while the cache holding the counter is unreachable
    database_product: str
    cache_product: str


def count_page_view(*, client_address: str | None, user_agent: str) -> Counts:
    """
    Store one access, then count one visit.

    The insert commits on its own (autocommit: no BEGIN or COMMIT round trips)
    before the counter moves, so a failed insert never counts a visit; a cache
    outage leaves the access stored and the visit uncounted.
    """
    stored = access_queries.store_access(client_address=client_address, user_agent=user_agent)
    metrics.ACCESSES_STORED.inc()
    visits = visit_counter.increment(stored.access_id)
    (metrics.COUNTER_UNAVAILABLE if visits is None else metrics.VISITS_COUNTED).inc()
    return _counts(stored.access_count, visits)


def current_counts() -> Counts:
    """The numbers as they stand, counting nothing."""
    return _counts(access_queries.access_count(), visit_counter.current())


def _counts(accesses: int, visits: int | None) -> Counts:
    return Counts(
        accesses=accesses,
        visits=visits,
        database_product=connection.display_name,
        cache_product=visit_counter.product_name(),
    )
