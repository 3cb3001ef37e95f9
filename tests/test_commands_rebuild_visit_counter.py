"""manage.py rebuild_visit_counter: raises a lost visit counter to the access count."""

import io
import threading
import time

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection

from tests.support.commands import output_of
from tests.support.database import in_thread
from visits import visit_counter
from visits.access_queries import store_access
from visits.counting import count_page_view
from visits.models import Access

pytestmark = pytest.mark.django_db


def test_rebuild_visit_counter_raises_lost_counter_to_access_count(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(10))
    for access_id in Access.objects.order_by("id").values_list("id", flat=True)[:3]:
        visit_counter.increment(access_id)

    first = output_of("rebuild_visit_counter", capsys)
    second = output_of("rebuild_visit_counter", capsys)

    assert first == "Raised the visit counter from 3 to 10, the number of access records.\n"
    assert second == "The visit counter (10) already covers the 10 access records.\n"
    assert visit_counter.current() == 10
    assert visit_counter.increment(Access.objects.create(user_agent="b").id) == 11


def test_rebuild_visit_counter_never_lowers_it(capsys):
    Access.objects.create(user_agent="a")
    cache.set(visit_counter.COUNTER_KEY, 20, timeout=None)

    assert output_of("rebuild_visit_counter", capsys) == (
        "The visit counter (20) already covers the 1 access records.\n"
    )
    assert visit_counter.current() == 20


def test_rebuild_visit_counter_on_empty_cache_keeps_key_without_expiry(capsys):
    Access.objects.create(user_agent="a")

    output_of("rebuild_visit_counter", capsys)

    redis = cache.client.get_client(write=True)
    assert redis.ttl(cache.make_key(visit_counter.COUNTER_KEY)) == -1
    assert visit_counter.current() == 1


def test_rebuild_visit_counter_with_cache_down_says_what_to_check(unreachable_cache):
    with pytest.raises(CommandError) as error:
        call_command("rebuild_visit_counter")

    assert str(error.value) == (
        "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
        "and run this again."
    )


@pytest.mark.django_db(transaction=True)
def test_rebuild_visit_counter_never_counts_twice_a_visit_stored_but_not_yet_counted(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))  # their count was lost
    in_flight = store_access(client_address=None, user_agent="b")

    rebuilt = output_of("rebuild_visit_counter", capsys)
    late_increment = visit_counter.increment(in_flight.access_id)
    next_view = count_page_view(client_address=None, user_agent="c")

    assert rebuilt == "Raised the visit counter from 0 to 4, the number of access records.\n"
    assert late_increment == 4
    assert (next_view.accesses, next_view.visits) == (5, 5)


@pytest.mark.django_db(transaction=True)
def test_rebuild_visit_counter_raced_against_live_page_views_counts_each_visit_once():
    """Redis loses its data 30 times under traffic; each rebuild must leave the counter exact."""
    differences = []
    for _ in range(30):
        stop = threading.Event()

        def visit_until_stopped(stop=stop) -> None:
            while not stop.is_set():
                count_page_view(client_address="192.0.2.1", user_agent="race")
                # As the end of a request does: the connection goes back to the pool.
                connection.close()

        visitors = [in_thread(visit_until_stopped) for _ in range(6)]
        time.sleep(0.05)
        cache.delete_many([visit_counter.COUNTER_KEY, visit_counter.COUNTED_UP_TO_KEY])
        call_command("rebuild_visit_counter", stdout=io.StringIO())
        stop.set()
        for visitor in visitors:
            visitor.join()
        differences.append(visit_counter.current() - Access.objects.count())

    assert differences == [0] * 30


def test_rebuild_visit_counter_exact_lowers_a_higher_counter(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    cache.set(visit_counter.COUNTER_KEY, 20, timeout=None)

    call_command("rebuild_visit_counter", "--exact")
    call_command("rebuild_visit_counter", "--exact")

    assert capsys.readouterr().out == (
        "Set the visit counter from 20 to 3, the number of access records.\n"
        "The visit counter (3) already equals the access records.\n"
    )
    redis = cache.client.get_client(write=True)
    assert redis.ttl(cache.make_key(visit_counter.COUNTER_KEY)) == -1
    assert visit_counter.increment(Access.objects.create(user_agent="b").id) == 4


def test_rebuild_visit_counter_exact_replaces_the_mark_of_a_previous_rebuild(capsys):
    """A restored database's ids may lie below the mark that a rebuild over the old one left."""
    first = Access.objects.create(user_agent="a")
    cache.set(visit_counter.COUNTER_KEY, 50, timeout=None)
    cache.set(visit_counter.COUNTED_UP_TO_KEY, first.id + 50, timeout=None)

    call_command("rebuild_visit_counter", "--exact")

    assert capsys.readouterr().out == (
        "Set the visit counter from 50 to 1, the number of access records.\n"
    )
    assert visit_counter.increment(Access.objects.create(user_agent="b").id) == 2


def test_rebuild_visit_counter_exact_with_cache_down_says_what_to_check(unreachable_cache):
    with pytest.raises(CommandError) as error:
        call_command("rebuild_visit_counter", "--exact")

    assert str(error.value) == (
        "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
        "and run this again."
    )
