"""
How far the visit counter is behind the access count, and since when.

Every access is stored before its visit is counted, and a visit answered
"counter unavailable" is never counted, so the counter falls behind by those
and catches up only by rebuild_visit_counter. Under load a reading is also off
by a few visits in flight: the access count is read first, so a visit counted
between the two reads makes it smaller, one stored but not yet counted larger.
"""

import datetime
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.utils import timezone

from visits import access_queries, visit_counter

# When a reading first found the counter behind; cleared by one that does not.
BEHIND_SINCE_KEY = "visit-counter-behind-since"


@dataclass(frozen=True)
class Drift:
    accesses: int
    visits: int
    since: datetime.datetime | None  # None unless behind

    @property
    def behind(self) -> int:
        """Accesses not counted as visits; negative when the counter is ahead."""
        return self.accesses - self.visits

    def as_dict(self) -> dict[str, int | str | None]:
        since = self.since.isoformat().replace("+00:00", "Z") if self.since else None
        return {"behind": self.behind, "since": since}


def measure() -> Drift | None:
    """The drift as it stands; None while the counter cannot be read."""
    accesses = access_queries.access_count()
    visits = visit_counter.current()
    if visits is None:
        return None
    try:
        since = _behind_since(accesses - visits)
    except visit_counter.UNREACHABLE:
        return None
    return Drift(accesses=accesses, visits=visits, since=since)


def _behind_since(behind: int) -> datetime.datetime | None:
    cache = caches[DEFAULT_CACHE_ALIAS]
    if behind <= 0:
        cache.delete(BEHIND_SINCE_KEY)
        return None
    cache.add(BEHIND_SINCE_KEY, timezone.now().isoformat(), timeout=None)
    since = cache.get(BEHIND_SINCE_KEY)
    return datetime.datetime.fromisoformat(since) if since else None
