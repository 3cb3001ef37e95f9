"""visits/drift.py: how far the visit counter is behind, and since when, as /readyz says."""

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


def store_uncounted(how_many: int) -> None:
    """Accesses stored while the counter was unavailable: never counted."""
    Access.objects.bulk_create(Access(user_agent="uncounted") for _ in range(how_many))


def test_counter_that_counts_every_access_is_not_behind(client):
    for _ in range(2):
        count_page_view(client_address=None, user_agent="counted")

    ready = json.loads(client.get(reverse("readyz")).content)

    assert ready["counter"] == {"behind": 0, "since": None}


def test_counter_behind_says_by_how_much_and_since_the_first_reading_that_saw_it(client):
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


def test_rebuild_clears_the_drift_and_its_start():
    store_uncounted(3)
    assert drift.measure().behind == 3

    call_command("rebuild_visit_counter", stdout=io.StringIO())
    measured = drift.measure()

    assert (measured.behind, measured.since) == (0, None)
    assert cache.get(drift.BEHIND_SINCE_KEY) is None


def test_counter_ahead_after_deletions_is_not_behind():
    for _ in range(3):
        count_page_view(client_address=None, user_agent="counted")
    Access.objects.filter(pk=Access.objects.first().pk).delete()

    assert drift.measure().as_dict() == {"behind": -1, "since": None}


def test_counter_unreadable_measures_nothing(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "KEY_PREFIX": "visits-test",
        }
    }

    assert drift.measure() is None
