"""visits/responses.py: the answers in each format, chosen by Accept; no services."""

import json
from http import HTTPStatus

import pytest
from django.test import RequestFactory
from django.utils import translation

from visits import responses
from visits.counting import Counts

COUNTS = Counts(accesses=1, visits=1, database_product="PostgreSQL", cache_product="Redis")


def request(accept: str | None = None):
    headers = {"Accept": accept} if accept is not None else {}
    return RequestFactory().get("/", headers=headers)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "text/plain"),
        ("*/*", "text/plain"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/plain; charset=latin-1", None),
        ("image/png", None),
    ],
)
def test_media_type_for_is_an_offered_type_without_its_charset(accept, media_type):
    assert responses.media_type_for(request(accept)) == media_type


def test_counts_as_plain_text_are_the_contracts_sentence():
    with translation.override("pt-br"):
        response = responses.counts_response(request(), COUNTS, responses.PLAIN)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."


def test_counts_as_json_give_both_numbers_their_products_and_the_sentence():
    with translation.override("en"):
        response = responses.counts_response(request(), COUNTS, responses.JSON)

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "accesses": 1,
        "visits": 1,
        "database": "PostgreSQL",
        "cache": "Redis",
        "message": "PostgreSQL database has 1 record. Redis counts 1 visit.",
    }


@pytest.mark.usefixtures("collected_static")
def test_counts_as_html_are_the_page_with_its_properly_worded_sentence():
    with translation.override("pt-br"):
        response = responses.counts_response(request(), COUNTS, responses.HTML)

    page = response.content.decode()
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Banco PostgreSQL tem 1 registro. Redis conta 1 visita." in page
    assert "1 registros" not in page


def test_error_as_json_is_one_sentence_with_its_status():
    response = responses.error_response(
        request("application/json"), "Something happened; do this.", HTTPStatus.NOT_FOUND
    )

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert json.loads(response.content) == {"error": "Something happened; do this."}


@pytest.mark.parametrize("accept", [None, "image/png"])
def test_error_where_no_format_fits_is_plain_text(accept):
    response = responses.error_response(
        request(accept), "Something happened; do this.", HTTPStatus.NOT_ACCEPTABLE
    )

    assert response.status_code == HTTPStatus.NOT_ACCEPTABLE
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Something happened; do this."


@pytest.mark.usefixtures("collected_static")
def test_error_as_html_is_headed_by_its_status():
    with translation.override("en"):
        response = responses.error_response(
            request("text/html"), "Something happened; do this.", HTTPStatus.SERVICE_UNAVAILABLE
        )

    page = response.content.decode()
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "<h1>Temporarily unavailable</h1>" in page
    assert "Something happened; do this." in page
