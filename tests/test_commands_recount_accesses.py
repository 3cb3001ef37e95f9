"""manage.py recount_accesses: puts the access counts right from the table."""

import datetime
import io

import psycopg
import pytest
from django.core.management import call_command
from django.db.models import F, Sum

from tests.support.commands import output_of
from tests.support.database import add_to_slot, database_arguments, in_thread
from visits.access_queries import access_count
from visits.models import Access, AccessCountSlot, HourlyAccessCountSlot

pytestmark = pytest.mark.django_db


def hourly_totals() -> dict[datetime.datetime, int]:
    totals = HourlyAccessCountSlot.objects.values("hour").annotate(total=Sum("count"))
    return {row["hour"]: row["total"] for row in totals if row["total"]}


def test_recount_accesses_exact_changes_nothing(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))

    assert output_of("recount_accesses", capsys) == "The access counts are exact: 3 records.\n"
    assert access_count() == 3


def test_recount_accesses_fixes_drift_and_reports_it(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    add_to_slot(15, 5)  # as a manual edit might leave it

    first = output_of("recount_accesses", capsys)
    second = output_of("recount_accesses", capsys)

    assert first == ("The access count said 8 but the table held 3 records (drift +5); fixed.\n")
    assert second == "The access counts are exact: 3 records.\n"
    assert access_count() == 3


def test_recount_accesses_fixes_each_drifted_hour_by_its_own_difference(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    hour = HourlyAccessCountSlot.objects.values_list("hour", flat=True).first()
    earlier = hour - datetime.timedelta(hours=5)
    HourlyAccessCountSlot.objects.create(hour=earlier, slot=7, count=2)  # counts no access
    HourlyAccessCountSlot.objects.filter(hour=hour).update(count=F("count") - 1)

    first = output_of("recount_accesses", capsys)

    assert first == "The hourly counts were wrong for 2 hour(s); fixed.\n"
    assert output_of("recount_accesses", capsys) == "The access counts are exact: 3 records.\n"
    assert hourly_totals() == {hour: 3}


def recount_while_another_transaction_runs(statement: str) -> tuple[bool, str]:
    """
    Runs recount_accesses while another connection's transaction, having run
    statement, stays open for up to 10 s; whether it finished meanwhile, and its output.
    """
    with psycopg.connect(**database_arguments()) as writer:
        writer.execute(statement)
        output = io.StringIO()
        recount = in_thread(lambda: call_command("recount_accesses", stdout=output))
        recount.join(10)
        finished_meanwhile = not recount.is_alive()
        writer.commit()
    recount.join()
    return finished_meanwhile, output.getvalue()


@pytest.mark.django_db(transaction=True)
def test_recount_accesses_waits_for_no_insert_and_is_exact_once_it_commits():
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    add_to_slot(15, 5)

    finished, output = recount_while_another_transaction_runs(
        "INSERT INTO visits_access (user_agent) VALUES ('in flight')"
    )

    assert finished
    assert output == "The access count said 8 but the table held 3 records (drift +5); fixed.\n"
    assert (access_count(), Access.objects.count()) == (4, 4)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "holding",
    [
        "UPDATE visits_accesscount SET count = count + 1 WHERE slot = 0",
        "INSERT INTO visits_accesscount (slot, count) VALUES (0, 1)",
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

    finished, output = recount_while_another_transaction_runs(holding)

    assert finished
    assert output == "The access count said 8 but the table held 3 records (drift +5); fixed.\n"
    assert access_count() == 4  # 3, and the 1 the other transaction committed
