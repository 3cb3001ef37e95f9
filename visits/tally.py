"""Recording a page view and reading the two numbers the page shows."""

from dataclasses import dataclass

from django.db import connection

from visits import metrics, visit_counter
from visits.models import Access, AccessCount


@dataclass(frozen=True)
class Tally:
    accesses: int
    visits: int | None  # None while the cache holding the counter is unreachable
    database_engine: str
    cache_engine: str


def record_access(*, client_address: str | None, user_agent: str) -> Tally:
    """
    Store one Access, then count one visit.

    The insert commits on its own (autocommit: no BEGIN or COMMIT round trips)
    before the counter moves, so a failed insert never counts a visit; a cache
    outage leaves the row stored and the visit uncounted.
    """
    recorded = Access.objects.record(client_address=client_address, user_agent=user_agent)
    metrics.ACCESSES_RECORDED.inc()
    visits = visit_counter.increment(recorded.access_id)
    (metrics.COUNTER_UNAVAILABLE if visits is None else metrics.VISITS_COUNTED).inc()
    return _tally(recorded.accesses, visits)


def current_tally() -> Tally:
    """The numbers as they stand, recording nothing."""
    return _tally(AccessCount.objects.total(), visit_counter.current())


def _tally(accesses: int, visits: int | None) -> Tally:
    return Tally(
        accesses=accesses,
        visits=visits,
        database_engine=connection.display_name,
        cache_engine=visit_counter.engine_name(),
    )
