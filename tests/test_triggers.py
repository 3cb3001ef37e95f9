"""
The triggers of the migrations: they keep the access count and the hourly counts
exact whatever writes the access table, over as many slots as the models allow.
"""

import datetime
import re

import pytest
from django.apps import apps
from django.db import connection

from visits.access_queries import access_count
from visits.models import ACCESS_COUNT_SLOTS, Access, HourlyAccessCountSlot

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
SLOT_PICK = re.compile(r"mod\(pg_backend_pid\(\), (\d+)\)")


def installed_trigger_functions() -> dict[str, str]:
    """Each function a trigger on one of the app's tables runs, by signature, with its source."""
    tables = [model._meta.db_table for model in apps.get_app_config("visits").get_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT function.oid::regprocedure::text, pg_get_functiondef(function.oid) "
            "FROM pg_trigger JOIN pg_proc AS function ON function.oid = pg_trigger.tgfoid "
            "WHERE pg_trigger.tgrelid::regclass::text = ANY(%s) AND NOT pg_trigger.tgisinternal",
            [tables],
        )
        return dict(cursor.fetchall())


def slot_counts() -> dict[str, set[int]]:
    """The number of slots each trigger function spreads its writes over."""
    return {
        function: {int(slots) for slots in SLOT_PICK.findall(source)}
        for function, source in installed_trigger_functions().items()
    }


def test_trigger_functions_spread_over_as_many_slots_as_the_models_allow():
    assert slot_counts() == {
        "visits_access_count_deleted()": {ACCESS_COUNT_SLOTS},
        "visits_access_count_inserted()": {ACCESS_COUNT_SLOTS},
        "visits_access_count_truncated()": set(),
        "visits_access_count_updated()": {ACCESS_COUNT_SLOTS},
    }


def test_trigger_function_with_another_slot_count_is_seen():
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(
            "CREATE OR REPLACE FUNCTION visits_access_count_deleted() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO visits_accesscount AS counted (slot, count) "
            "SELECT mod(pg_backend_pid(), 8), -count(*) FROM deleted_rows "
            "ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count; "
            "RETURN NULL; END $$"
        )

    assert slot_counts()["visits_access_count_deleted()"] == {8}


def exact() -> tuple[int, int]:
    return access_count(), Access.objects.count()


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_access_count_follows_orm_inserts_and_deletes():
    Access.objects.create(user_agent="a")
    Access.objects.bulk_create(Access(user_agent="b") for _ in range(5))
    assert exact() == (6, 6)

    Access.objects.filter(pk__in=Access.objects.filter(user_agent="b").values("pk")[:2]).delete()
    assert exact() == (4, 4)


def test_access_count_follows_raw_sql_bulk_insert_delete_and_truncate():
    execute(
        "INSERT INTO visits_access (client_address, user_agent) "
        "SELECT '192.0.2.1', 'bulk' FROM generate_series(1, 1000)"
    )
    assert exact() == (1000, 1000)

    # By position, not by id: the ids depend on what earlier tests inserted.
    execute("DELETE FROM visits_access WHERE id IN (SELECT id FROM visits_access LIMIT 333)")
    assert exact() == (667, 667)

    execute("TRUNCATE visits_access")
    assert exact() == (0, 0)

    execute("INSERT INTO visits_access (user_agent) VALUES ('after truncate')")
    assert exact() == (1, 1)


def test_access_count_ignores_updates_and_empty_statements():
    Access.objects.create(user_agent="a")

    Access.objects.update(user_agent="changed")
    execute("INSERT INTO visits_access (user_agent) SELECT 'none' WHERE false")
    execute("DELETE FROM visits_access WHERE false")

    assert exact() == (1, 1)


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
