"""
Prometheus metrics, right across gunicorn's worker processes.

Each worker writes its samples to files in PROMETHEUS_MULTIPROC_DIR, which
gunicorn.conf.py creates empty at start, and /metrics adds them up; without it
(one process: the tests' client, runserver) the process's own registry
answers. The drift is read when scraped, not kept.
"""

import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from visits import drift
from visits.request_details import comes_from

# Where Prometheus scrapes, from DJANGO_METRICS_ALLOWED_NETWORKS only: elsewhere no page
# is there (404).
SCRAPE_PATH = "/metrics"

REQUESTS = Counter("visits_http_requests", "HTTP requests answered, by status code.", ["status"])
DURATION = Histogram(
    "visits_http_request_duration_seconds",
    "Time from the request reaching Django to its response.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# The exported name keeps "recorded" (the glossary says store): visits_accesses_recorded_total
# is public, queried by the Swarm test's Prometheus, the documented promtool query and any
# dashboard built on it, which a rename would silently empty.
ACCESSES_STORED = Counter("visits_accesses_recorded", "Accesses stored in the database.")
VISITS_COUNTED = Counter("visits_counted", "Visits counted by the visit counter.")
COUNTER_UNAVAILABLE = Counter(
    "visits_counter_unavailable",
    "Accesses stored while the visit counter was unreachable: answered, never counted.",
)
DATABASE_UNAVAILABLE = Counter(
    "visits_database_unavailable",
    "Requests answered 503 because the database was unreachable or too slow.",
)


class MetricsMiddleware:
    """
    Counts every response by status and times it; first in MIDDLEWARE, so it sees them all.
    It answers Prometheus' scrape itself, before any other middleware: Prometheus names a
    replica by its address (Host: 10.0.1.7:8080), which is no host the site answers to
    (ALLOWED_HOSTS), and the scrape builds no link from its Host, the one thing that check
    guards. A client outside the allowed networks goes on to Django, which has no such page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        if is_scrape(request):
            response = exposition()
            add_never_cache_headers(response)
        else:
            response = self.get_response(request)
        DURATION.observe(time.perf_counter() - started)
        REQUESTS.labels(str(response.status_code)).inc()
        return response


def is_scrape(request: HttpRequest) -> bool:
    return (
        request.path_info == SCRAPE_PATH
        and request.method in ("GET", "HEAD")
        and comes_from(request, settings.METRICS_ALLOWED_NETWORKS)
    )


class DriftCollector:
    """visits_counter_behind and since when, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        try:
            measured = drift.measure()
        except DatabaseError:
            return
        if measured is None:
            return
        yield GaugeMetricFamily(
            "visits_counter_behind",
            "Accesses the visit counter has not counted (negative: it is ahead).",
            value=measured.behind,
        )
        if measured.since is not None:
            yield GaugeMetricFamily(
                "visits_counter_behind_since_timestamp_seconds",
                "When a reading first found the visit counter behind.",
                value=measured.since.timestamp(),
            )


def exposition() -> HttpResponse:
    """Every worker's metrics and the drift, in Prometheus' text format."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DriftCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _ProcessMetrics:
    """This process's own registry, as one collector."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
