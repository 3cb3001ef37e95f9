"""The maintenance commands: recount_accesses and rebuild_visit_counter."""

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from tests.conftest import add_to_slot
from tests.servers import free_port
from visits import visit_counter
from visits.models import Access, AccessCount

pytestmark = pytest.mark.django_db


def run(command: str, capsys) -> str:
    call_command(command)
    return capsys.readouterr().out


def test_recount_accesses_exact_changes_nothing(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))

    assert run("recount_accesses", capsys) == "The access counts are exact: 3 records.\n"
    assert AccessCount.objects.total() == 3


def test_recount_accesses_fixes_drift_and_reports_it(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))
    add_to_slot(15, 5)  # as a manual edit might leave it

    first = run("recount_accesses", capsys)
    second = run("recount_accesses", capsys)

    assert first == ("The access count said 8 but the table holds 3 records (drift +5); fixed.\n")
    assert second == "The access counts are exact: 3 records.\n"
    assert list(AccessCount.objects.values_list("slot", "count")) == [(0, 3)]


def test_rebuild_visit_counter_raises_lost_counter_to_access_count(capsys):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(10))
    for _ in range(3):
        visit_counter.increment()

    first = run("rebuild_visit_counter", capsys)
    second = run("rebuild_visit_counter", capsys)

    assert first == "Raised the visit counter from 3 to 10, the number of access records.\n"
    assert second == "The visit counter (10) already covers the 10 access records.\n"
    assert visit_counter.current() == 10
    assert visit_counter.increment() == 11


def test_rebuild_visit_counter_never_lowers_it(capsys):
    Access.objects.create(user_agent="a")
    cache.set(visit_counter.COUNTER_KEY, 20, timeout=None)

    assert run("rebuild_visit_counter", capsys) == (
        "The visit counter (20) already covers the 1 access records.\n"
    )
    assert visit_counter.current() == 20


def test_rebuild_visit_counter_on_empty_cache_keeps_key_without_expiry(capsys):
    Access.objects.create(user_agent="a")

    run("rebuild_visit_counter", capsys)

    redis = cache.client.get_client(write=True)
    assert redis.ttl(cache.make_key(visit_counter.COUNTER_KEY)) == -1
    assert visit_counter.current() == 1


def test_rebuild_visit_counter_with_local_memory_cache_explains_why_not(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    with pytest.raises(CommandError) as error:
        call_command("rebuild_visit_counter")

    assert str(error.value) == (
        "The visit counter lives in the web server's local memory, which no other process "
        "can reach; set CACHE_HOST to keep it in Redis."
    )


def test_rebuild_visit_counter_with_cache_down_says_what_to_check(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "KEY_PREFIX": "visits-test",
        }
    }

    with pytest.raises(CommandError) as error:
        call_command("rebuild_visit_counter")

    assert str(error.value) == (
        "The visit counter's cache does not answer; check CACHE_HOST and CACHE_PORT "
        "and run this again."
    )
