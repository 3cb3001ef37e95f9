"""visits/access_queries.py: the page's SQL, storing an access and reading the access count."""

import pytest
from django.db import connection

from tests.support.database import add_to_slot
from visits.access_queries import StoredAccess, access_count, store_access
from visits.models import Access, AccessCountSlot

pytestmark = pytest.mark.django_db


def test_store_access_returns_its_id_and_the_access_count_with_it():
    Access.objects.bulk_create(Access(user_agent="before") for _ in range(2))

    stored = store_access(client_address="192.0.2.1", user_agent="agent")

    access = Access.objects.get(user_agent="agent")
    assert stored == StoredAccess(access_id=access.id, access_count=3)
    assert str(access.client_address) == "192.0.2.1"


def test_store_access_without_an_address_stores_null():
    stored = store_access(client_address=None, user_agent="")

    assert Access.objects.get(pk=stored.access_id).client_address is None
    assert stored.access_count == 1


def test_access_count_of_an_empty_table_is_zero_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert access_count() == 0


def test_access_count_reads_the_slots_not_the_table():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO visits_access (user_agent) VALUES ('a'), ('b')")
    add_to_slot(9, 5)  # what the slots say is what is answered

    assert access_count() == 7


def test_access_count_is_spread_over_slots_that_sum_exactly():
    Access.objects.create(user_agent="a")
    add_to_slot(3, 7)
    add_to_slot(5, -7)

    assert (access_count(), Access.objects.count()) == (1, 1)
    assert {3, 5} <= set(AccessCountSlot.objects.values_list("slot", flat=True))
