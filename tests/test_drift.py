"""How far the visit counter is behind: visits.drift, /readyz and manage.py counter_drift."""

import datetime
import io
import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from visits import drift
from visits.counting import count_page_view
from visits.models import Access

pytestmark = pytest.mark.django_db


def counter_drift(capsys) -> str:
    call_command("counter_drift")
    return capsys.readouterr().out


def store_uncounted(how_many: int) -> None:
    """Accesses stored while the counter was unavailable: never counted."""
    Access.objects.bulk_create(Access(user_agent="uncounted") for _ in range(how_many))


def test_counter_that_counts_every_access_is_not_behind(client, capsys):
    for _ in range(2):
        count_page_view(client_address=None, user_agent="counted")

    ready = json.loads(client.get(reverse("readyz")).content)

    assert ready["counter"] == {"behind": 0, "since": None}
    assert counter_drift(capsys) == "The visit counter (2) counts all 2 access records.\n"


def test_counter_behind_says_by_how_much_and_since_the_first_reading_that_saw_it(client, capsys):
    count_page_view(client_address=None, user_agent="counted")
    store_uncounted(3)

    before = timezone.now()
    first = json.loads(client.get(reverse("readyz")).content)["counter"]
    after = timezone.now()
    store_uncounted(1)
    second = json.loads(client.get(reverse("readyz")).content)["counter"]

    since = datetime.datetime.fromisoformat(first["since"])
    assert first["behind"] == 3
    assert first["since"].endswith("Z")
    assert before <= since <= after
    assert second == {"behind": 4, "since": first["since"]}
    assert counter_drift(capsys) == (
        f"The visit counter (1) is 4 behind the 5 access records, since "
        f"{since:%Y-%m-%d %H:%M:%S} UTC; rebuild_visit_counter raises it.\n"
    )


def test_rebuild_clears_the_drift_and_its_start():
    store_uncounted(3)
    assert drift.measure().behind == 3

    call_command("rebuild_visit_counter", stdout=io.StringIO())
    measured = drift.measure()

    assert (measured.behind, measured.since) == (0, None)
    assert cache.get(drift.BEHIND_SINCE_KEY) is None


def test_counter_ahead_after_deletions_is_not_behind(capsys):
    for _ in range(3):
        count_page_view(client_address=None, user_agent="counted")
    Access.objects.filter(pk=Access.objects.first().pk).delete()

    assert drift.measure().as_dict() == {"behind": -1, "since": None}
    assert counter_drift(capsys) == (
        "The visit counter (3) is 1 ahead of the 2 access records (records were deleted).\n"
    )


def test_counter_unreadable_measures_nothing(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "KEY_PREFIX": "visits-test",
        }
    }

    assert drift.measure() is None
