import ipaddress
import json
from http import HTTPStatus

import pytest
from django.urls import reverse

from visits.models import USER_AGENT_MAX_LENGTH, Access
from visits.visit_counter import current

pytestmark = pytest.mark.django_db

PT_PLAIN = "Banco PostgreSQL tem {n} registros. Redis conta {m} visitas."
EN_PLAIN = "PostgreSQL database has {n} {records}. Redis counts {m} {visits}."


def test_index_plain_text_pt_br_first_and_second_request_exact(client):
    first = client.get(reverse("index"))
    second = client.get(reverse("index"))

    assert first.status_code == HTTPStatus.OK
    assert first["Content-Type"] == "text/plain; charset=utf-8"
    assert first.content.decode() == PT_PLAIN.format(n=1, m=1)
    assert second.content.decode() == PT_PLAIN.format(n=2, m=2)


def test_index_accept_any_is_plain_text_as_curl_sends_it(client):
    response = client.get(reverse("index"), headers={"Accept": "*/*"})

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == PT_PLAIN.format(n=1, m=1)


def test_index_plain_text_english_words_plurals(client):
    english = {"Accept-Language": "en-US,en;q=0.9"}
    first = client.get(reverse("index"), headers=english)
    second = client.get(reverse("index"), headers=english)

    assert first.content.decode() == EN_PLAIN.format(n=1, records="record", m=1, visits="visit")
    assert second.content.decode() == EN_PLAIN.format(n=2, records="records", m=2, visits="visits")
    assert first["Content-Language"] == "en"


def test_index_json_pt_br_and_english(client):
    first = client.get(reverse("index"), headers={"Accept": "application/json"})
    second = client.get(
        reverse("index"), headers={"Accept": "application/json", "Accept-Language": "en"}
    )

    assert first["Content-Type"] == "application/json"
    assert json.loads(first.content) == {
        "accesses": 1,
        "visits": 1,
        "database": "PostgreSQL",
        "cache": "Redis",
        "message": PT_PLAIN.format(n=1, m=1),
    }
    assert json.loads(second.content) == {
        "accesses": 2,
        "visits": 2,
        "database": "PostgreSQL",
        "cache": "Redis",
        "message": "PostgreSQL database has 2 records. Redis counts 2 visits.",
    }


def test_index_html_words_singular_and_plural_in_both_languages(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    first = client.get(reverse("index"), headers={"Accept": browser})
    second = client.get(reverse("index"), headers={"Accept": browser})
    third = client.get(reverse("index"), headers={"Accept": browser, "Accept-Language": "en"})

    assert first["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="pt-br">' in first.content.decode()
    assert "Banco PostgreSQL tem 1 registro. Redis conta 1 visita." in first.content.decode()
    assert "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas." in second.content.decode()
    assert '<html lang="en">' in third.content.decode()
    assert "PostgreSQL database has 3 records. Redis counts 3 visits." in third.content.decode()


def test_index_response_is_never_cached_and_varies_by_format_and_language(client):
    response = client.get(reverse("index"))

    assert "no-store" in response["Cache-Control"]
    assert set(response["Vary"].replace(" ", "").split(",")) == {"Accept", "Accept-Language"}


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json; charset=utf-8", "application/json"),
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("text/plain;q=0, */*", "text/html; charset=utf-8"),
    ],
)
def test_index_accept_with_parameters_or_refusals_gets_the_type_it_rates_highest(
    client, accept, content_type
):
    response = client.get(reverse("index"), headers={"Accept": accept})

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == content_type
    assert Access.objects.count() == 1


def test_index_unacceptable_type_is_406_and_counts_nothing(client):
    response = client.get(reverse("index"), headers={"Accept": "image/png"})

    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert response.content.decode() == (
        "Esta página está disponível como text/plain, text/html ou application/json; "
        "peça um deles no cabeçalho Accept."
    )
    assert Access.objects.count() == 0
    assert current() == 0


def test_index_head_answers_like_get_without_counting(client):
    client.get(reverse("index"))

    response = client.head(reverse("index"))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert Access.objects.count() == 1
    assert current() == 1


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_index_other_methods_are_405_and_count_nothing(client, method):
    response = getattr(client, method)(reverse("index"))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"
    assert Access.objects.count() == 0
    assert current() == 0


@pytest.mark.parametrize("path", ["/favicon.ico", "/nothing-here", "/index.html"])
def test_unknown_paths_are_404_and_count_nothing(client, path):
    response = client.get(path)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Access.objects.count() == 0
    assert current() == 0


def test_index_records_client_address_and_user_agent(client):
    client.get(reverse("index"), headers={"User-Agent": "curl/8.5.0"}, REMOTE_ADDR="203.0.113.7")

    access = Access.objects.get()
    assert (access.client_address, access.user_agent) == ("203.0.113.7", "curl/8.5.0")


def test_index_overlong_user_agent_is_truncated_not_rejected(client):
    response = client.get(reverse("index"), headers={"User-Agent": "x" * 10_000})

    assert response.status_code == HTTPStatus.OK
    assert Access.objects.get().user_agent == "x" * USER_AGENT_MAX_LENGTH


def test_index_non_utf8_and_nul_bytes_in_user_agent_are_stored_replaced(client):
    # WSGI passes header bytes as latin-1 text: b"caf\xc3\xa9 \xff\x00" arrives so.
    raw = b"caf\xc3\xa9 \xff\x00".decode("latin-1")

    response = client.get(reverse("index"), HTTP_USER_AGENT=raw)

    assert response.status_code == HTTPStatus.OK
    assert Access.objects.get().user_agent == "café \ufffd\ufffd"


def test_index_forwarded_for_ignored_without_trusted_proxy(client):
    client.get(reverse("index"), headers={"X-Forwarded-For": "198.51.100.1"})

    assert Access.objects.get().client_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        ("198.51.100.1", "198.51.100.1"),
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("198.51.100.1, 127.0.0.2", "198.51.100.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("[::1]", "127.0.0.1"),
        ("not-an-address", "127.0.0.1"),
        (",,,", "127.0.0.1"),
        ("999.1.1.1", "127.0.0.1"),
        ("1.2.3.4 5.6.7.8", "127.0.0.1"),
        (", ".join(f"10.0.{hop // 250}.{hop % 250 + 1}" for hop in range(100)), "10.0.0.100"),
    ],
)
def test_index_forwarded_for_from_trusted_proxy_names_nearest_untrusted_hop(
    client, settings, forwarded, stored
):
    """Behind trusted proxies (127.0.0.0/8), the rightmost other address is the client's."""
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.0/8")]

    response = client.get(reverse("index"), headers={"X-Forwarded-For": forwarded})

    assert response.status_code == HTTPStatus.OK
    assert Access.objects.get().client_address == stored


def test_healthz_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"))

    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {"status": "alive"}
    assert current() == 0


def test_readyz_reports_both_dependencies_up(client):
    response = client.get(reverse("readyz"))

    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {
        "status": "ready",
        "database": {"engine": "PostgreSQL", "state": "up"},
        "cache": {"engine": "Redis", "state": "up"},
        "counter": {"behind": 0, "since": None},
    }
    assert Access.objects.count() == 0
    assert current() == 0


@pytest.mark.parametrize(
    ("headers", "content_type", "body"),
    [
        (
            {"Accept": "application/json"},
            "application/json",
            '{"error": "N\\u00e3o h\\u00e1 nada neste endere\\u00e7o; confira-o ou comece pela '
            'p\\u00e1gina de visitas."}',
        ),
        (
            {"Accept": "*/*", "Accept-Language": "en"},
            "text/plain; charset=utf-8",
            "There is nothing at this address; check it, or start from the visits page.",
        ),
    ],
)
def test_unknown_path_answers_404_in_the_clients_format_and_language(
    client, headers, content_type, body
):
    response = client.get("/nothing-here", headers=headers)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == content_type
    assert response.content.decode() == body


def test_host_not_allowed_answers_400_in_the_clients_format_and_counts_nothing(client):
    response = client.get(
        reverse("index"), headers={"Accept": "application/json"}, HTTP_HOST="evil.example"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert json.loads(response.content) == {
        "error": "Não foi possível entender este pedido; confira o endereço e os cabeçalhos e "
        "tente de novo."
    }
    assert Access.objects.count() == 0
