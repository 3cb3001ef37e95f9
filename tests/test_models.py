"""visits/models.py: the access, and the slots its counts are spread over."""

import datetime

import pytest
from django.db import IntegrityError, connection

from visits.counting import count_page_view
from visits.models import ACCESS_COUNT_SLOTS, Access, AccessCountSlot, HourlyAccessCountSlot

pytestmark = pytest.mark.django_db


def database_clock() -> datetime.datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def test_access_created_at_is_set_by_the_database():
    before = database_clock()
    count_page_view(client_address=None, user_agent="")
    after = database_clock()

    # The time of the INSERT statement (STATEMENT_TIMESTAMP()), by the database's clock.
    created_at = Access.objects.get().created_at
    assert before <= created_at <= after
    assert created_at.utcoffset() == datetime.timedelta(0)


def test_access_str_names_address_and_time_once_saved():
    unsaved = Access(client_address="192.0.2.1")
    Access.objects.create(client_address="192.0.2.1", user_agent="")

    saved = Access.objects.get()
    assert str(unsaved) == "192.0.2.1 @ (not saved)"
    assert str(saved) == f"192.0.2.1 @ {saved.created_at:%Y-%m-%d %H:%M:%S}"


def test_access_str_without_an_address_shows_a_dash():
    access = Access(client_address=None, created_at=datetime.datetime(2026, 11, 27, 21, 5, 9))

    assert str(access) == "- @ 2026-11-27 21:05:09"


def test_accesses_are_listed_newest_first_then_by_id():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) VALUES "
            "('2026-11-27 21:00+00', 'older'), ('2026-11-27 22:00+00', 'newer'), "
            "('2026-11-27 22:00+00', 'newer, stored later')"
        )

    assert list(Access.objects.values_list("user_agent", flat=True)) == [
        "newer, stored later",
        "newer",
        "older",
    ]


@pytest.mark.parametrize("model", [AccessCountSlot, HourlyAccessCountSlot])
def test_slot_beyond_the_slot_count_is_refused_by_the_database(model):
    hour = {"hour": datetime.datetime(2026, 11, 27, 21, tzinfo=datetime.UTC)}
    extra = hour if model is HourlyAccessCountSlot else {}

    with pytest.raises(IntegrityError, match="slot_in_range"):
        model.objects.create(slot=ACCESS_COUNT_SLOTS, count=1, **extra)


def test_slots_name_their_share_of_the_count():
    hour = datetime.datetime(2026, 11, 27, 21, tzinfo=datetime.UTC)

    assert str(AccessCountSlot(slot=3, count=42)) == "slot 3: 42"
    assert str(HourlyAccessCountSlot(hour=hour, slot=3, count=2)) == "2026-11-27 21h slot 3: 2"
