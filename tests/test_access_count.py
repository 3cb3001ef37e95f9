"""The access count stays equal to count(*) whatever writes the table."""

import pytest
from django.db import connection

from tests.conftest import add_to_slot
from visits.models import Access, AccessCountSlot
from visits.storage import access_count

pytestmark = pytest.mark.django_db


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


def test_access_count_is_spread_over_slots_that_sum_exactly():
    Access.objects.create(user_agent="a")
    add_to_slot(3, 7)
    add_to_slot(5, -7)

    assert exact() == (1, 1)
    assert {3, 5} <= set(AccessCountSlot.objects.values_list("slot", flat=True))
