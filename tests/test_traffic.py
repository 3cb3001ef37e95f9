"""Hourly counts kept by the triggers, and the traffic the stats page shows from them."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from visits.models import Access, HourlyAccessCountSlot
from visits.storage import access_count
from visits.traffic import recent_traffic

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 27, 21, 30, tzinfo=UTC)  # 18:30 in São Paulo


def hourly_totals() -> dict[datetime.datetime, int]:
    totals: dict[datetime.datetime, int] = {}
    for hour, count in HourlyAccessCountSlot.objects.values_list("hour", "count"):
        totals[hour] = totals.get(hour, 0) + count
    return {hour: total for hour, total in totals.items() if total}


def test_hourly_counts_follow_inserts_and_deletes_in_utc_hours():
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")  # a half-hour offset must not matter
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) VALUES "
            "('2026-11-27 21:10+00', 'a'), ('2026-11-27 21:50+00', 'b'), "
            "('2026-11-27 22:05+00', 'c')"
        )
        cursor.execute("DELETE FROM visits_access WHERE user_agent = 'b'")
        cursor.execute("SET TIME ZONE 'UTC'")

    assert hourly_totals() == {
        datetime.datetime(2026, 11, 27, 21, tzinfo=UTC): 1,
        datetime.datetime(2026, 11, 27, 22, tzinfo=UTC): 1,
    }


def test_hourly_counts_follow_updates_that_move_accesses_to_other_hours():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) VALUES "
            "('2026-11-27 21:10+00', 'a'), ('2026-11-27 21:50+00', 'b'), "
            "('2026-11-27 22:05+00', 'c')"
        )
    Access.objects.filter(user_agent__in=["a", "b"]).update(
        created_at=datetime.datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    )
    Access.objects.filter(user_agent="c").update(user_agent="no hour changed")
    Access.objects.filter(user_agent="b").update(
        created_at=Access.objects.get(user_agent="a").created_at
    )

    assert hourly_totals() == {
        datetime.datetime(2026, 11, 20, 8, tzinfo=UTC): 2,
        datetime.datetime(2026, 11, 27, 22, tzinfo=UTC): 1,
    }
    assert access_count() == 3


def test_hourly_counts_are_emptied_by_truncate():
    Access.objects.create(user_agent="a")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE visits_access")

    assert hourly_totals() == {}


def test_recent_traffic_counts_last_24_hours_and_30_days_in_local_time():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) VALUES "
            "('2026-11-27 21:05+00', 'now'), ('2026-11-27 21:25+00', 'now'), "
            "('2026-11-26 22:00+00', 'first of 24 hours'), "
            "('2026-11-26 21:59+00', 'just before the 24 hours'), "
            "('2026-10-29 03:00+00', 'first local day: 2026-10-29 00:00 in Sao Paulo'), "
            "('2026-10-29 02:59+00', 'the day before, locally')"
        )

    with timezone.override("America/Sao_Paulo"):
        traffic = recent_traffic(now=NOW)

    zone = timezone.get_fixed_timezone(-180)
    assert len(traffic.hourly) == 24
    assert traffic.hourly[0] == (datetime.datetime(2026, 11, 26, 19, tzinfo=zone), 1)
    assert traffic.hourly[-1] == (datetime.datetime(2026, 11, 27, 18, tzinfo=zone), 2)
    assert sum(count for _, count in traffic.hourly) == 3
    assert len(traffic.daily) == 30
    assert traffic.daily[0] == (datetime.date(2026, 10, 29), 1)
    assert traffic.daily[-1] == (datetime.date(2026, 11, 27), 2)
    assert dict(traffic.daily)[datetime.date(2026, 11, 26)] == 2
    assert sum(count for _, count in traffic.daily) == 5
