import pytest
from django.db import DataError

from visits import visit_counter
from visits.counting import Counts, count_page_view, current_counts
from visits.models import USER_AGENT_MAX_LENGTH, Access

pytestmark = pytest.mark.django_db


def test_count_page_view_stores_row_then_counts_visit():
    counts = count_page_view(client_address="192.0.2.1", user_agent="agent")

    assert counts == Counts(
        accesses=1, visits=1, database_product="PostgreSQL", cache_product="Redis"
    )
    assert list(Access.objects.values_list("client_address", "user_agent")) == [
        ("192.0.2.1", "agent")
    ]


@pytest.mark.django_db(transaction=True)  # the insert commits on its own, as in production
def test_count_page_view_failed_insert_counts_no_visit():
    # PostgreSQL rejects a value longer than the column, as it would any row it cannot store.
    with pytest.raises(DataError):
        count_page_view(client_address=None, user_agent="x" * (USER_AGENT_MAX_LENGTH + 1))

    assert Access.objects.count() == 0
    assert visit_counter.current() == 0


def test_access_created_at_is_set_by_the_database():
    count_page_view(client_address=None, user_agent="")

    access = Access.objects.get()
    assert access.created_at is not None
    assert access.created_at.tzinfo is not None


def test_current_counts_reads_without_counting():
    count_page_view(client_address=None, user_agent="")

    assert current_counts() == Counts(
        accesses=1, visits=1, database_product="PostgreSQL", cache_product="Redis"
    )
    assert Access.objects.count() == 1


def test_access_str_names_address_and_time_once_saved():
    unsaved = Access(client_address="192.0.2.1")
    Access.objects.create(client_address="192.0.2.1", user_agent="")

    saved = Access.objects.get()
    assert str(unsaved) == "192.0.2.1 @ (not saved)"
    assert str(saved) == f"192.0.2.1 @ {saved.created_at:%Y-%m-%d %H:%M:%S}"
