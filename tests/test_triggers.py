"""The access-count triggers as PostgreSQL holds them, checked against the models."""

import re

import pytest
from django.apps import apps
from django.db import connection

from visits.models import ACCESS_COUNT_SLOTS

pytestmark = pytest.mark.django_db

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
