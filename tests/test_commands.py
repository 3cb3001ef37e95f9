"""The maintenance commands: recount_accesses and rebuild_visit_counter."""

import datetime
import io
import threading
import time

import psycopg
import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Sum

from tests.conftest import add_to_slot
from tests.servers import database_arguments, free_port
from visits import visit_counter
from visits.counting import count_page_view
from visits.models import Access, AccessCountSlot, HourlyAccessCountSlot
from visits.storage import access_count, store_access

pytestmark = pytest.mark.django_db


def hourly_totals() -> dict[datetime.datetime, int]:
    totals = HourlyAccessCountSlot.objects.values("hour").annotate(total=Sum("count"))
    return {row["hour"]: row["total"] for row in totals if row["total"]}


def run(command: str, capsys) -> str:
    call_command(command)
    return capsys.readouterr().out


def test_recount_accesses_exact_changes_nothing(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))

    assert run("recount_accesses", capsys) == "The access counts are exact: 3 records.\n"
    assert access_count() == 3


def test_recount_accesses_fixes_drift_and_reports_it(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    add_to_slot(15, 5)  # as a manual edit might leave it

    first = run("recount_accesses", capsys)
    second = run("recount_accesses", capsys)

    assert first == ("The access count said 8 but the table held 3 records (drift +5); fixed.\n")
    assert second == "The access counts are exact: 3 records.\n"
    assert access_count() == 3


def test_recount_accesses_fixes_each_drifted_hour_by_its_own_difference(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    hour = HourlyAccessCountSlot.objects.values_list("hour", flat=True).first()
    earlier = hour - datetime.timedelta(hours=5)
    HourlyAccessCountSlot.objects.create(hour=earlier, slot=7, count=2)  # counts no access
    HourlyAccessCountSlot.objects.filter(hour=hour).update(count=F("count") - 1)

    first = run("recount_accesses", capsys)

    assert first == "The hourly counts were wrong for 2 hour(s); fixed.\n"
    assert run("recount_accesses", capsys) == "The access counts are exact: 3 records.\n"
    assert hourly_totals() == {hour: 3}


def test_rebuild_visit_counter_raises_lost_counter_to_access_count(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(10))
    for access_id in Access.objects.order_by("id").values_list("id", flat=True)[:3]:
        visit_counter.increment(access_id)

    first = run("rebuild_visit_counter", capsys)
    second = run("rebuild_visit_counter", capsys)

    assert first == "Raised the visit counter from 3 to 10, the number of access records.\n"
    assert second == "The visit counter (10) already covers the 10 access records.\n"
    assert visit_counter.current() == 10
    assert visit_counter.increment(Access.objects.create(user_agent="b").id) == 11


def test_rebuild_visit_counter_never_lowers_it(capsys):
    Access.objects.create(user_agent="a")
    cache.set(visit_counter.COUNTER_KEY, 20, timeout=None)

    assert run("rebuild_visit_counter", capsys) == (
        "The visit counter (20) already covers the 1 access records.\n"
    )
    assert visit_counter.current() == 20


def test_rebuild_visit_counter_on_empty_cache_keeps_key_without_expiry(capsys):
    Access.objects.create(user_agent="a")

    run("rebuild_visit_counter", capsys)

    redis = cache.client.get_client(write=True)
    assert redis.ttl(cache.make_key(visit_counter.COUNTER_KEY)) == -1
    assert visit_counter.current() == 1


def test_rebuild_visit_counter_with_cache_down_says_what_to_check(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "KEY_PREFIX": "visits-test",
        }
    }

    with pytest.raises(CommandError) as error:
        call_command("rebuild_visit_counter")

    assert str(error.value) == (
        "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
        "and run this again."
    )


def in_thread(function) -> threading.Thread:
    """Starts function on a thread of its own, which has its own database connection."""

    def target() -> None:
        try:
            function()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_recount_accesses_waits_for_no_insert_and_is_exact_once_it_commits():
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    add_to_slot(15, 5)

    with psycopg.connect(**database_arguments()) as writer:
        writer.execute("INSERT INTO visits_access (user_agent) VALUES ('in flight')")
        output = io.StringIO()
        recount = in_thread(lambda: call_command("recount_accesses", stdout=output))
        recount.join(10)
        finished_while_inserting = not recount.is_alive()
        writer.commit()
    recount.join()

    assert finished_while_inserting
    assert output.getvalue() == (
        "The access count said 8 but the table held 3 records (drift +5); fixed.\n"
    )
    assert (access_count(), Access.objects.count()) == (4, 4)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "holding",
    [
        "UPDATE visits_accesscount SET count = count WHERE slot = 0",
        "INSERT INTO visits_accesscount (slot, count) VALUES (0, 0)",
    ],
    ids=["its-row", "a-new-row"],
)
def test_recount_accesses_corrects_around_a_slot_that_a_writer_holds(holding):
    """A transaction still writing accesses holds its slot; the correction takes another."""
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    AccessCountSlot.objects.all().delete()
    add_to_slot(15, 8)
    if holding.startswith("UPDATE"):
        add_to_slot(0, 0)

    with psycopg.connect(**database_arguments()) as writer:
        writer.execute(holding)
        output = io.StringIO()
        recount = in_thread(lambda: call_command("recount_accesses", stdout=output))
        recount.join(10)
        finished_while_held = not recount.is_alive()
        writer.rollback()
    recount.join()

    assert finished_while_held
    assert output.getvalue() == (
        "The access count said 8 but the table held 3 records (drift +5); fixed.\n"
    )
    assert access_count() == 3


@pytest.mark.django_db(transaction=True)
def test_rebuild_visit_counter_never_counts_twice_a_visit_stored_but_not_yet_counted(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))  # their count was lost
    in_flight = store_access(client_address=None, user_agent="b")

    rebuilt = run("rebuild_visit_counter", capsys)
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

        visitors = [in_thread(visit_until_stopped) for _ in range(6)]
        time.sleep(0.05)
        cache.delete_many([visit_counter.COUNTER_KEY, visit_counter.COUNTED_UP_TO_KEY])
        call_command("rebuild_visit_counter", stdout=io.StringIO())
        stop.set()
        for visitor in visitors:
            visitor.join()
        differences.append(visit_counter.current() - Access.objects.count())

    assert differences == [0] * 30
