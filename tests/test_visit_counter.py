"""visits/visit_counter.py: the visit counter in Redis, and the page while Redis is down."""

import json

import pytest
import redis
from django.core.cache import cache

from tests.support.servers import scraped_metric
from visits import visit_counter
from visits.models import Access

pytestmark = pytest.mark.usefixtures("fresh_counter")


def test_increment_from_nothing_counts_one_then_two():
    assert [visit_counter.increment(1), visit_counter.increment(2)] == [1, 2]
    assert visit_counter.current() == 2


def test_increment_key_never_expires():
    visit_counter.increment(1)

    client = cache.client.get_client(write=True)
    assert client.ttl(cache.make_key(visit_counter.COUNTER_KEY)) == -1


def test_counter_key_is_the_configured_prefix_then_version_then_visit_counter():
    """The form bench/servers.py and the soak test read from Redis without Django's cache."""
    assert cache.make_key(visit_counter.COUNTER_KEY) == "visits-test:1:visit-counter"


def test_current_before_first_visit_is_zero():
    assert visit_counter.current() == 0


def test_raise_counts_every_access_up_to_an_id_once_and_for_ten_minutes():
    visit_counter.increment(1)

    assert visit_counter.raise_to(7, counted_up_to=9) == (1, 7)
    assert [visit_counter.increment(9), visit_counter.increment(10)] == [7, 8]
    client = cache.client.get_client(write=True)
    assert 590 < client.ttl(cache.make_key(visit_counter.COUNTED_UP_TO_KEY)) <= 600


def test_raise_that_changes_nothing_leaves_later_increments_counted():
    for access_id in range(1, 6):
        visit_counter.increment(access_id)

    assert visit_counter.raise_to(3, counted_up_to=3) == (5, 5)
    assert visit_counter.increment(2) == 6


REDIS_DOWN_PT = (
    "Banco PostgreSQL tem {n} registros. O contador de visitas do Redis está indisponível "
    "no momento, então esta visita foi registrada, mas não contada."
)


def test_redis_down_records_access_and_says_counter_unavailable_then_recovers(
    gunicorn, private_redis
):
    server = gunicorn(CACHE_PORT=str(private_redis.port), WEB_CONCURRENCY="2")
    counter = redis.Redis(port=private_redis.port)
    assert server.get("/").body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."

    private_redis.stop()
    plain = server.get("/")
    as_json = server.get("/", headers={"Accept": "application/json", "Accept-Language": "en"})
    ready = server.get("/readyz")

    as_html = server.get("/", headers={"Accept": "text/html"})
    assert (plain.status, plain.body) == (200, REDIS_DOWN_PT.format(n=2))
    assert as_html.status == 200
    assert "O Redis está indisponível no momento" in as_html.body
    assert as_json.status == 200
    assert json.loads(as_json.body) == {
        "accesses": 3,
        "visits": None,
        "database": "PostgreSQL",
        "cache": "Redis",
        "message": "PostgreSQL database has 3 records. The Redis visit counter is unavailable "
        "right now, so this visit was recorded but not counted.",
    }
    assert ready.status == 200
    assert json.loads(ready.body)["status"] == "degraded"
    assert json.loads(ready.body)["cache"] == {"engine": "Redis", "state": "down"}
    assert json.loads(ready.body)["counter"] is None
    assert scraped_metric(server, "visits_counter_unavailable_total") == 3
    assert "WARNING visits.visit_counter: Visit not counted: the cache is unreachable" in (
        server.log()
    )

    private_redis.start()
    recovered = server.get("/")

    assert recovered.body == "Banco PostgreSQL tem 5 registros. Redis conta 2 visitas."
    assert Access.objects.count() == 5
    assert int(counter.get(cache.make_key(visit_counter.COUNTER_KEY))) == 2
    assert json.loads(server.get("/readyz").body)["counter"]["behind"] == 3
