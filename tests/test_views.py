"""visits/views.py: the page, the stats, the probes and the error handlers, through Django."""

import datetime
import json
import re
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

from visits import visit_counter
from visits.models import Access
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


def test_readyz_with_redis_down_stays_ready_as_degraded(client, unreachable_cache):
    """The page still answers without Redis, so the replica stays in traffic."""
    response = client.get(reverse("readyz"))

    assert response.status_code == HTTPStatus.OK
    assert json.loads(response.content) == {
        "status": "degraded",
        "database": {"engine": "PostgreSQL", "state": "up"},
        "cache": {"engine": "Redis", "state": "down"},
        "counter": None,
    }


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


NOW = datetime.datetime(2026, 11, 27, 21, 30, tzinfo=datetime.UTC)  # 18:30 in São Paulo
LOCAL = datetime.timezone(datetime.timedelta(hours=-3))


@pytest.fixture
def traffic(monkeypatch):
    """
    Three accesses at fixed times, read with the clock stopped at NOW: no hour or
    day can turn between storing them and drawing them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_access (created_at, user_agent) VALUES "
            "('2026-11-27 12:10+00', 'a'), ('2026-11-27 21:05+00', 'b'), "
            "('2026-11-27 21:25+00', 'c')"
        )
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def hourly_expected(**counts: int) -> list[tuple[datetime.datetime, int]]:
    """The 24 local hours before NOW, oldest first, with the counts given as h09=1."""
    first = datetime.datetime(2026, 11, 26, 19, tzinfo=LOCAL)
    hours = [first + datetime.timedelta(hours=n) for n in range(24)]
    return [(hour, counts.get(f"h{hour:%H}", 0)) for hour in hours]


def test_stats_page_draws_24_hourly_and_30_daily_bars_in_portuguese(client, traffic):
    response = client.get(reverse("stats"))
    page = response.content.decode()

    # Each bar names its value on hover: the hourly chart's 24, then the daily chart's 30.
    bars = re.findall(r"<g>\s*<title>([^<]*)</title>", page)
    assert response.status_code == HTTPStatus.OK
    assert page.count('<rect class="bar"') == 24 + 30
    assert bars[:24] == [f"{hour:%H:%M}: {n}" for hour, n in hourly_expected(h09=1, h18=2)]
    assert bars[24:] == [f"{day} Out: 0" for day in range(29, 32)] + [
        f"{day} Nov: {3 if day == 27 else 0}" for day in range(1, 28)
    ]
    assert '<rect class="bar" x="660.9" y="18.0" width="17.4" height="186.0"/>' in page
    # Each value axis: a line and a label for each tick, from 0 to the peak, 2 then 3.
    ticks = re.findall(r'<text class="label tick"[^>]*>([^<]*)</text>', page)
    assert ticks == ["0", "1", "2", "0", "1", "2", "3"]
    assert "Visualizações por hora (pico de 2)" in page
    assert "Visualizações por dia (pico de 3)" in page
    assert "3 visualizações de página registradas ao todo." in page
    assert "Visualizações por hora, últimas 24 horas" in page


def test_stats_page_in_english(client):
    response = client.get(reverse("stats"), headers={"Accept-Language": "en"})

    assert "0 page views recorded in all." in response.content.decode()
    assert "Page views per day, last 30 days" in response.content.decode()


def test_stats_json_gives_the_same_numbers_and_counts_nothing(client, traffic):
    response = client.get(reverse("stats-json"))
    data = json.loads(response.content)

    first_day = datetime.date(2026, 10, 29)
    days = [first_day + datetime.timedelta(days=n) for n in range(30)]
    assert response["Content-Type"] == "application/json"
    assert data == {
        "accesses": 3,
        "time_zone": "America/Sao_Paulo",
        "hourly": [
            {"hour": hour.isoformat(), "accesses": n} for hour, n in hourly_expected(h09=1, h18=2)
        ],
        "daily": [{"date": day.isoformat(), "accesses": 3 if day.day == 27 else 0} for day in days],
    }
    assert Access.objects.count() == 3
    assert visit_counter.current() == 0


@pytest.mark.parametrize(
    ("language", "heading"), [("pt-BR", "Página não encontrada"), ("en", "Page not found")]
)
def test_not_found_page_is_styled_in_the_right_language(client, language, heading):
    response = client.get(
        "/nothing-here", headers={"Accept": "text/html", "Accept-Language": language}
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert f"<h1>{heading}</h1>" in response.content.decode()
    assert "/static/visits/page." in response.content.decode()


def test_server_error_page_is_styled_and_says_what_to_do():
    # Django renders it for any unhandled exception, in the language the request chose.
    with translation.override("pt-br"):
        response = server_error(RequestFactory().get("/"))

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "<h1>Algo deu errado</h1>" in response.content.decode()
    assert "tente novamente em alguns instantes" in response.content.decode()
