import datetime
import json
import zoneinfo
from http import HTTPStatus

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.database import add_to_slot
from visits.models import Access

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:visits_access_changelist")


@pytest.fixture
def accesses():
    """Two accesses a year apart, at fixed times: no day or year can turn under a test."""
    old = Access.objects.create(client_address="192.0.2.10", user_agent="Mozilla/5.0 Firefox")
    new = Access.objects.create(client_address="198.51.100.20", user_agent="curl/8.5.0")
    Access.objects.filter(pk=old.pk).update(created_at=at("2025-10-18 15:00+00"))
    Access.objects.filter(pk=new.pk).update(created_at=at("2026-11-27 15:00+00"))
    return old, new


def listed(response) -> list[int]:
    return [access.pk for access in response.context["cl"].result_list]


def test_admin_changelist_lists_newest_first(admin_client, accesses):
    old, new = accesses

    response = admin_client.get(CHANGELIST)

    assert response.status_code == HTTPStatus.OK
    assert listed(response) == [new.pk, old.pk]


def test_admin_changelist_search_finds_an_exact_address(admin_client, accesses):
    old, new = accesses

    by_address = admin_client.get(CHANGELIST, {"q": " 192.0.2.10 "})
    by_mapped_address = admin_client.get(CHANGELIST, {"q": "::ffff:198.51.100.20"})

    assert listed(by_address) == [old.pk]
    assert listed(by_mapped_address) == [new.pk]


@pytest.mark.parametrize("term", ["curl", "192.0.2", "192.0.2.1", "192.0.2.10/24"])
def test_admin_changelist_search_for_anything_but_an_exact_address_finds_nothing(
    admin_client, accesses, term
):
    response = admin_client.get(CHANGELIST, {"q": term})

    assert response.status_code == HTTPStatus.OK
    assert listed(response) == []


def test_admin_changelist_search_reads_the_address_index_not_the_table(admin_client):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (client_address, user_agent) "
            "SELECT '10.0.0.0'::inet + n, 'load' FROM generate_series(1, 20000) AS n"
        )
        cursor.execute("ANALYZE visits_access")
    response = admin_client.get(CHANGELIST, {"q": "10.0.0.7"})
    queryset = response.context["cl"].queryset

    plan = queryset.explain()

    assert len(listed(response)) == 1
    assert "visits_access_address" in plan
    assert "Seq Scan" not in plan


def test_admin_changelist_sorts_only_by_time(admin_client, accesses):
    response = admin_client.get(CHANGELIST)

    assert response.context["cl"].sortable_by == ["created_at"]


def test_admin_changelist_date_filter_past_7_days(admin_client, accesses):
    _, new = accesses
    # The bounds the admin's "Past 7 days" link carries on 2026-11-27: local midnights,
    # with offset.
    response = admin_client.get(
        CHANGELIST,
        {
            "created_at__gte": "2026-11-20 00:00:00-03:00",
            "created_at__lt": "2026-11-28 00:00:00-03:00",
        },
    )

    assert listed(response) == [new.pk]


def test_admin_changelist_date_hierarchy_by_year(admin_client, accesses):
    _, new = accesses

    response = admin_client.get(CHANGELIST, {"created_at__year": "2026"})

    assert listed(response) == [new.pk]


def test_admin_access_detail_opens_read_only(admin_client, accesses):
    _, new = accesses

    response = admin_client.get(reverse("admin:visits_access_change", args=[new.pk]))

    assert response.status_code == HTTPStatus.OK
    assert "curl/8.5.0" in response.content.decode()
    assert response.context["has_change_permission"] is False


def test_admin_cannot_add_or_edit_accesses(admin_client, accesses):
    _, new = accesses

    add = admin_client.get(reverse("admin:visits_access_add"))
    edit = admin_client.post(
        reverse("admin:visits_access_change", args=[new.pk]), {"user_agent": "forged"}
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert edit.status_code == HTTPStatus.FORBIDDEN
    assert Access.objects.get(pk=new.pk).user_agent == "curl/8.5.0"


def test_admin_cannot_delete_accesses_one_or_in_bulk(admin_client, accesses):
    old, new = accesses

    listing = admin_client.get(CHANGELIST)
    one = admin_client.post(reverse("admin:visits_access_delete", args=[new.pk]), {"post": "yes"})
    bulk = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [old.pk, new.pk], "post": "yes"},
    )

    assert listing.context["action_form"] is None  # no action at all: none to delete with
    assert one.status_code == HTTPStatus.FORBIDDEN
    assert bulk.status_code == HTTPStatus.OK
    assert Access.objects.count() == 2


def test_admin_anonymous_user_is_redirected_to_login(client):
    response = client.get(CHANGELIST)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{reverse('admin:login')}?next={CHANGELIST}"


def test_admin_site_header_names_the_project(admin_client):
    response = admin_client.get(reverse("admin:index"), headers={"Accept-Language": "en"})

    assert "Visits administration" in response.content.decode()


def test_admin_changelist_shows_the_trigger_kept_total_and_full_user_agent_on_hover(
    admin_client, accesses
):
    add_to_slot(7, 40)  # the total shown must be the trigger-kept one, not a count(*)

    response = admin_client.get(CHANGELIST, headers={"Accept-Language": "en"})
    page = response.content.decode()

    assert response.context["cl"].result_count == 42
    assert "42 accesses" in page
    assert '<span title="Mozilla/5.0 Firefox">Mozilla/5.0 Firefox</span>' in page


def test_admin_changelist_filtered_count_is_exact(admin_client, accesses):
    add_to_slot(7, 40)

    response = admin_client.get(CHANGELIST, {"q": "198.51.100.20"})

    assert response.context["cl"].result_count == 1


def insert_accesses(*moments: str) -> None:
    """Store accesses at the given times, as a bulk load would."""
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO visits_access (created_at, user_agent) VALUES (%s, 'hierarchy')",
            [(moment,) for moment in moments],
        )


def hierarchy_dates(admin_client, kind: str, params: dict) -> tuple[list, list, list[str]]:
    """
    The dates the admin's changelist answers for its date hierarchy, Django's own
    answer over the same rows, and the SQL the first one sent.
    """
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == HTTPStatus.OK
    queryset = response.context["cl"].queryset
    with CaptureQueriesContext(connection) as queries:
        answered = list(queryset.datetimes("created_at", kind))
    return (
        answered,
        list(QuerySet.datetimes(queryset, "created_at", kind)),
        [query["sql"] for query in queries.captured_queries],
    )


SPREAD = (
    "2025-01-15 12:00+00",
    "2026-11-02 02:30+00",
    "2026-11-27 21:00+00",
    "2027-01-01 02:59+00",
)


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"created_at__year": "2026"},
        {"created_at__year": "2026", "created_at__month": "11"},
        {"created_at__gte": "2026-11-01 00:00-03:00"},
        {"created_at__gte": "2026-11-01 00:00-03:00", "created_at__lt": "2026-12-01 00:00-03:00"},
    ],
)
def test_admin_date_hierarchy_from_hourly_counts_equals_django(admin_client, kind, params):
    insert_accesses(*SPREAD)

    answered, django, queries = hierarchy_dates(admin_client, kind, params)

    assert answered == django
    assert [sql for sql in queries if "DISTINCT" in sql] == []


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        # The first and last rows match, the middle one does not: a plain range would keep it.
        ({"created_at__week_day": "4"}, "month"),  # Wednesdays (Sunday is 1)
        ({"created_at__hour": "9"}, "month"),  # 12:00 UTC in Sao Paulo
        ({"created_at__in": "2025-01-15 12:00+00:00,2026-11-25 12:00+00:00"}, "month"),
        ({"created_at__month": "11"}, "year"),  # a month without its year is no range
        ({"q": "192.0.2.1"}, "year"),
        ({"client_address": "192.0.2.1"}, "year"),
    ],
)
def test_admin_date_hierarchy_with_other_filters_equals_django(admin_client, params, kind):
    insert_accesses("2025-01-15 12:00+00", "2025-06-05 15:00+00", "2026-11-25 12:00+00")
    Access.objects.create(client_address="192.0.2.1", user_agent="x")
    Access.objects.filter(client_address="192.0.2.1").update(created_at=at("2025-06-05 15:00+00"))

    answered, django, _ = hierarchy_dates(admin_client, kind, params)

    assert answered == django


def at(moment: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(moment)


def local(zone: str, moment: str) -> str:
    """A local wall time in zone, as the UTC instant PostgreSQL is given."""
    wall = datetime.datetime.fromisoformat(moment).replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return wall.astimezone(datetime.UTC).isoformat()


@pytest.mark.parametrize(
    "zone",
    [
        "Asia/Kolkata",
        "America/St_Johns",
        "Asia/Kathmandu",
        "Australia/Adelaide",
        "Europe/London",
        "America/Sao_Paulo",
        "Pacific/Chatham",
    ],
)
@pytest.mark.parametrize("kind", ["year", "month", "day"])
def test_admin_date_hierarchy_in_any_time_zone_equals_django(admin_client, settings, zone, kind):
    settings.TIME_ZONE = zone
    # Just after and just before local midnights, at month and year ends, in and out of DST.
    insert_accesses(
        local(zone, "2026-11-02 00:10"),
        local(zone, "2026-11-09 23:55"),
        local(zone, "2026-12-01 00:20"),
        local(zone, "2027-01-01 00:05"),
        local(zone, "2027-06-30 23:50"),
        local(zone, "2018-11-04 01:30"),  # Sao Paulo's clocks skipped midnight that day
        local(zone, "2019-02-16 23:30"),  # ... and went back from midnight to 23:00
        local(zone, "2030-01-01 00:10"),  # alone in its year
    )
    params = {"created_at__year": "2026", "created_at__month": "11"} if kind == "day" else {}

    answered, django, queries = hierarchy_dates(admin_client, kind, params)

    assert answered == django
    assert [sql for sql in queries if "DISTINCT" in sql] == []


def test_admin_date_hierarchy_half_hour_zone_lists_the_local_day(admin_client, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    insert_accesses("2026-11-01 18:45+00")  # 00:15 on November 2nd in India

    response = admin_client.get(CHANGELIST, {"created_at__year": "2026", "created_at__month": "11"})

    assert [choice["link"] for choice in response.context["choices"]] == [
        "?created_at__day=2&created_at__month=11&created_at__year=2026"
    ]


LOGIN = reverse("admin:login")


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("operator", password="right-Secret-9")


@pytest.fixture
def password_checks(monkeypatch):
    """Counts the passwords checked (each one hashed): a locked-out attempt checks none."""
    checked = []
    check_password = AbstractBaseUser.check_password

    def counting(user, raw_password):
        checked.append(user.get_username())
        return check_password(user, raw_password)

    monkeypatch.setattr(AbstractBaseUser, "check_password", counting)
    return checked


def log_in(client, username: str, password: str, address: str = "127.0.0.1", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, headers=headers
    )


def test_admin_login_locks_out_an_address_after_5_failures_without_hashing(
    client, operator, password_checks
):
    failures = [log_in(client, f"guess{n}", "wrong") for n in range(5)]
    checks_before = len(password_checks)

    locked = log_in(client, "operator", "right-Secret-9", Accept="application/json")

    # The fifth failure reaches the limit, and is answered as the lockout it starts.
    assert [failure.status_code for failure in failures] == [HTTPStatus.OK] * 4 + [
        HTTPStatus.TOO_MANY_REQUESTS
    ]
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert locked["Retry-After"] == "900"
    assert json.loads(locked.content) == {
        "error": "Login falhou vezes demais a partir deste endereço ou para este usuário; "
        "tente de novo em 15 minutos."
    }
    assert len(password_checks) == checks_before
    assert "_auth_user_id" not in client.session


def test_admin_login_locks_out_a_user_name_tried_from_many_addresses(client, operator):
    for n in range(5):
        log_in(client, "operator", "wrong", address=f"198.51.100.{n + 1}")

    locked = log_in(
        client, "operator", "right-Secret-9", address="203.0.113.9", **{"Accept-Language": "en"}
    )
    other_user = log_in(client, "someone-else", "wrong", address="203.0.113.10")

    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert locked.content.decode() == (
        "Too many failed logins from this address or for this user; try again in 15 minutes."
    )
    assert other_user.status_code == HTTPStatus.OK


def test_admin_login_succeeds_below_the_limit(client, operator):
    for _ in range(4):
        log_in(client, "operator", "wrong")

    success = log_in(client, "operator", "right-Secret-9")

    assert success.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(operator.pk)
