"""manage.py counter_drift: how far the visit counter is behind, said to an operator."""

import pytest
from django.core.management import CommandError, call_command

from tests.support.commands import output_of
from visits import drift
from visits.counting import count_page_view
from visits.models import Access

pytestmark = pytest.mark.django_db


def store_uncounted(how_many: int) -> None:
    """Accesses stored while the counter was unavailable: never counted."""
    Access.objects.bulk_create(Access(user_agent="uncounted") for _ in range(how_many))


def test_counter_drift_of_a_counter_that_counts_every_access(capsys):
    for _ in range(2):
        count_page_view(client_address=None, user_agent="counted")

    assert output_of("counter_drift", capsys) == (
        "The visit counter (2) counts all 2 access records.\n"
    )


def test_counter_drift_behind_says_by_how_much_and_since_the_first_reading_that_saw_it(capsys):
    count_page_view(client_address=None, user_agent="counted")
    store_uncounted(3)
    since = drift.measure().since
    store_uncounted(1)

    assert output_of("counter_drift", capsys) == (
        f"The visit counter (1) is 4 behind the 5 access records, since "
        f"{since:%Y-%m-%d %H:%M:%S} UTC; rebuild_visit_counter raises it.\n"
    )


def test_counter_drift_ahead_after_deletions_says_records_were_deleted(capsys):
    for _ in range(3):
        count_page_view(client_address=None, user_agent="counted")
    Access.objects.filter(pk=Access.objects.first().pk).delete()

    assert output_of("counter_drift", capsys) == (
        "The visit counter (3) is 1 ahead of the 2 access records (records were deleted).\n"
    )


def test_counter_drift_with_cache_down_says_what_to_check(unreachable_cache):
    with pytest.raises(CommandError) as error:
        call_command("counter_drift")

    assert str(error.value) == (
        "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
        "and run this again."
    )
