"""visits/counting.py: a page view stores an access, then counts a visit."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DataError

from visits import visit_counter
from visits.access_queries import access_count
from visits.counting import Counts, count_page_view, current_counts
from visits.models import USER_AGENT_MAX_LENGTH, Access

pytestmark = pytest.mark.django_db


def test_count_page_view_stores_row_then_counts_visit():
    counts = count_page_view(client_address="192.0.2.1", user_agent="agent")

    assert counts == Counts(
        accesses=1, visits=1, database_product="PostgreSQL", cache_product="Redis"
    )
    assert list(Access.objects.values_list("client_address", "user_agent")) == [
        ("192.0.2.1", "agent")
    ]


@pytest.mark.django_db(transaction=True)  # the insert commits on its own, as in production
def test_count_page_view_failed_insert_counts_no_visit():
    # PostgreSQL rejects a value longer than the column, as it would any row it cannot store.
    with pytest.raises(DataError):
        count_page_view(client_address=None, user_agent="x" * (USER_AGENT_MAX_LENGTH + 1))

    assert Access.objects.count() == 0
    assert visit_counter.current() == 0


def test_current_counts_reads_without_counting():
    count_page_view(client_address=None, user_agent="")

    assert current_counts() == Counts(
        accesses=1, visits=1, database_product="PostgreSQL", cache_product="Redis"
    )
    assert Access.objects.count() == 1


REQUESTS = 500
IN_FLIGHT = 32
SENTENCE = re.compile(r"Banco PostgreSQL tem (\d+) registros\. Redis conta (\d+) visitas\.")


def test_concurrent_requests_on_several_workers_count_each_visit_once(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="3", WEB_THREADS="4")

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        replies = list(pool.map(lambda _: server.get("/"), range(REQUESTS)))

    assert [reply.status for reply in replies] == [200] * REQUESTS
    visit_numbers = sorted(int(SENTENCE.fullmatch(reply.body).group(2)) for reply in replies)
    assert visit_numbers == list(range(1, REQUESTS + 1))
    assert Access.objects.count() == REQUESTS
    assert access_count() == REQUESTS
    assert visit_counter.current() == REQUESTS
