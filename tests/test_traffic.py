"""visits/traffic.py: the page views per hour and per day the stats page shows."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from visits.traffic import recent_traffic

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 27, 21, 30, tzinfo=UTC)  # 18:30 in São Paulo


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
