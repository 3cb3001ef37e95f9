"""
visits/middleware.py: a 503 of one sentence while PostgreSQL is down or too slow,
and the admin only from its networks.
"""

import ipaddress
import json
import os
import subprocess
import sys
import time
from http import HTTPStatus

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from psycopg import errors as postgresql_errors

from tests.support.database import database_arguments
from tests.support.servers import PROJECT_ROOT, scraped_metric
from visits import visit_counter
from visits.middleware import DatabaseUnavailableMiddleware

POSTGRES_DOWN_PT = (
    "O banco de dados PostgreSQL está indisponível no momento; tente novamente em alguns instantes."
)
POSTGRES_DOWN_EN = (
    "The PostgreSQL database is unavailable right now; please try again in a few moments."
)
TOO_SLOW_PT = (
    "O banco de dados PostgreSQL demorou demais para responder; tente novamente em alguns "
    "instantes."
)
TOO_SLOW_EN = "The PostgreSQL database took too long to answer; please try again in a few moments."


def unavailable(exception: Exception, **headers: str):
    """The middleware's answer to EXCEPTION raised by the view of a request with HEADERS."""
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    # Django's LocaleMiddleware, which runs first, would have chosen by Accept-Language.
    with translation.override(headers.pop("language", "pt-br")):
        return middleware.process_exception(RequestFactory().get("/", headers=headers), exception)


def test_database_unavailable_is_a_503_with_one_sentence_and_retry_after():
    response = unavailable(OperationalError("connection refused"))

    assert (response.status_code, response.content.decode()) == (503, POSTGRES_DOWN_PT)
    assert response["Retry-After"] == "5"


def test_database_timeout_says_it_took_too_long_in_the_clients_format():
    try:
        raise OperationalError("canceling statement") from postgresql_errors.QueryCanceled()
    except OperationalError as error:
        timed_out = error

    response = unavailable(timed_out, Accept="application/json", language="en")

    assert response.status_code == 503
    assert json.loads(response.content) == {"error": TOO_SLOW_EN}


def test_lost_connection_is_a_503_too():
    assert unavailable(InterfaceError("connection already closed")).status_code == 503


def test_other_exceptions_are_left_to_django():
    assert unavailable(ValueError("a bug")) is None


def test_postgres_down_is_503_counts_nothing_then_recovers_without_restart(
    start_gunicorn, private_postgres
):
    database = {"DB_PORT": str(private_postgres.port), "DB_NAME": "postgres"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **database},
        check=True,
    )
    server = start_gunicorn(**database, WEB_CONCURRENCY="2", WEB_THREADS="2")
    assert server.get("/").body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."

    private_postgres.stop()
    plain = server.get("/")
    as_json = server.get("/", headers={"Accept": "application/json", "Accept-Language": "en"})
    as_html = server.get("/", headers={"Accept": "text/html"})
    ready = server.get("/readyz")

    assert (plain.status, plain.body) == (503, POSTGRES_DOWN_PT)
    assert as_html.status == 503
    assert "<h1>Temporariamente indisponível</h1>" in as_html.body
    assert POSTGRES_DOWN_PT in as_html.body
    assert plain.headers["retry-after"] == "5"
    assert (as_json.status, json.loads(as_json.body)) == (503, {"error": POSTGRES_DOWN_EN})
    assert ready.status == 503
    assert json.loads(ready.body)["database"] == {"engine": "PostgreSQL", "state": "down"}
    assert scraped_metric(server, "visits_database_unavailable_total") == 3
    assert visit_counter.current() == 1
    assert "Traceback" not in plain.body + as_json.body

    private_postgres.start()
    replies = [server.get("/") for _ in range(4)]

    assert [reply.status for reply in replies] == [200] * 4
    assert replies[-1].body == "Banco PostgreSQL tem 5 registros. Redis conta 5 visitas."
    assert visit_counter.current() == 5


def test_table_locked_elsewhere_is_503_after_lock_timeout_and_records_nothing(gunicorn):
    server = gunicorn(DB_LOCK_TIMEOUT="0.5")
    assert server.get("/").status == 200

    with psycopg.connect(**database_arguments()) as holder:
        holder.execute("LOCK TABLE visits_access IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        plain = server.get("/")
        waited = time.monotonic() - started
        as_json = server.get("/", headers={"Accept": "application/json", "Accept-Language": "en"})
        holder.rollback()

    assert (plain.status, plain.body, plain.headers["retry-after"]) == (503, TOO_SLOW_PT, "5")
    assert (as_json.status, json.loads(as_json.body)) == (503, {"error": TOO_SLOW_EN})
    assert 0.5 <= waited < 2
    assert server.get("/").body == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."


def test_statement_over_its_timeout_is_503_and_records_nothing(gunicorn):
    server = gunicorn(DB_STATEMENT_TIMEOUT="0.3")
    with connection.cursor() as cursor:
        # A test-made trigger that makes the page's INSERT take two seconds.
        cursor.execute(
            "CREATE FUNCTION visits_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER visits_test_slow BEFORE INSERT ON visits_access "
            "FOR EACH ROW EXECUTE FUNCTION visits_test_slow()"
        )
    try:
        started = time.monotonic()
        slow = server.get("/")
        waited = time.monotonic() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER visits_test_slow ON visits_access")
            cursor.execute("DROP FUNCTION visits_test_slow()")

    assert (slow.status, slow.body, slow.headers["retry-after"]) == (503, TOO_SLOW_PT, "5")
    assert waited < 1.5
    assert "Answered 503 to GET /: canceling statement due to statement timeout" in server.log()
    assert server.get("/").body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("networks", "status"),
    [([], HTTPStatus.OK), (["127.0.0.0/8"], HTTPStatus.OK), (["10.0.0.0/8"], HTTPStatus.NOT_FOUND)],
)
def test_admin_reached_only_from_allowed_networks(client, settings, networks, status):
    settings.ADMIN_ALLOWED_NETWORKS = [ipaddress.ip_network(network) for network in networks]

    login = client.get(reverse("admin:login"), headers={"Accept": "application/json"})
    page = client.get(reverse("index"))

    assert login.status_code == status
    assert page.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_admin_outside_allowed_networks_is_a_404_in_the_clients_format(client, settings):
    settings.ADMIN_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]

    response = client.get(reverse("admin:index"), headers={"Accept": "application/json"})

    assert json.loads(response.content) == {
        "error": "Não há nada neste endereço; confira-o ou comece pela página de visitas."
    }
