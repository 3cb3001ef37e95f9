import json
from http import HTTPStatus

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

from visits import visit_counter
from visits.models import Access

pytestmark = pytest.mark.django_db


def test_stats_page_draws_24_hourly_and_30_daily_bars_in_portuguese(client):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(3))

    response = client.get(reverse("stats"))
    page = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert page.count('<rect class="bar"') == 24 + 30
    assert "3 visualizações de página registradas ao todo." in page
    assert "Visualizações por hora, últimas 24 horas" in page
    assert "<title>" in page  # each bar names its value on hover


def test_stats_page_in_english(client):
    response = client.get(reverse("stats"), headers={"Accept-Language": "en"})

    assert "0 page views recorded in all." in response.content.decode()
    assert "Page views per day, last 30 days" in response.content.decode()


def test_stats_json_gives_the_same_numbers_and_counts_nothing(client):
    Access.objects.bulk_create(Access(user_agent="a") for _ in range(2))

    response = client.get(reverse("stats-json"))
    data = json.loads(response.content)

    assert response["Content-Type"] == "application/json"
    assert data["accesses"] == 2
    assert data["time_zone"] == "America/Sao_Paulo"
    assert len(data["hourly"]) == 24
    assert len(data["daily"]) == 30
    assert data["hourly"][-1]["accesses"] == 2
    assert data["daily"][-1]["accesses"] == 2
    assert Access.objects.count() == 2
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
