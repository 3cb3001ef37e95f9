"""Outages of Redis and PostgreSQL, with real servers stopped and started again."""

import json
import os
import subprocess
import sys
import time

import psycopg
import redis
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import PROJECT_ROOT, database_arguments, session_timeouts
from visits import visit_counter
from visits.models import Access

REDIS_DOWN_PT = (
    "Banco PostgreSQL tem {n} registros. O contador de visitas do Redis está indisponível "
    "no momento, então esta visita foi registrada, mas não contada."
)
POSTGRES_DOWN_PT = (
    "O banco de dados PostgreSQL está indisponível no momento; tente novamente em alguns instantes."
)
POSTGRES_DOWN_EN = (
    "The PostgreSQL database is unavailable right now; please try again in a few moments."
)


def metric(server, name: str) -> float:
    """One unlabelled sample of the server's /metrics, scraped now."""
    scrape = server.get("/metrics")
    assert scrape.status == 200
    for family in text_string_to_metric_families(scrape.body):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in /metrics")


def test_redis_down_records_access_and_says_counter_unavailable_then_recovers(
    gunicorn, private_redis
):
    server = gunicorn(CACHE_PORT=str(private_redis.port), WEB_CONCURRENCY="2")
    counter = redis.Redis(port=private_redis.port)
    assert server.get("/").body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."

    private_redis.stop()
    plain = server.get("/")
    as_json = server.get("/", headers={"Accept": "application/json", "Accept-Language": "en"})
    ready = server.get("/readyz")

    as_html = server.get("/", headers={"Accept": "text/html"})
    assert (plain.status, plain.body) == (200, REDIS_DOWN_PT.format(n=2))
    assert as_html.status == 200
    assert "O Redis está indisponível no momento" in as_html.body
    assert as_json.status == 200
    assert json.loads(as_json.body) == {
        "accesses": 3,
        "visits": None,
        "database": "PostgreSQL",
        "cache": "Redis",
        "message": "PostgreSQL database has 3 records. The Redis visit counter is unavailable "
        "right now, so this visit was recorded but not counted.",
    }
    assert ready.status == 503
    assert json.loads(ready.body)["cache"] == {"engine": "Redis", "state": "down"}
    assert json.loads(ready.body)["counter"] is None
    assert metric(server, "visits_counter_unavailable_total") == 3
    assert "WARNING visits.visit_counter: Visit not counted: the cache is unreachable" in (
        server.log()
    )

    private_redis.start()
    recovered = server.get("/")

    assert recovered.body == "Banco PostgreSQL tem 5 registros. Redis conta 2 visitas."
    assert Access.objects.count() == 5
    assert int(counter.get("visits-test:1:visit-counter")) == 2
    assert json.loads(server.get("/readyz").body)["counter"]["behind"] == 3


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
    assert metric(server, "visits_database_unavailable_total") == 3
    assert visit_counter.current() == 1
    assert "Traceback" not in plain.body + as_json.body

    private_postgres.start()
    replies = [server.get("/") for _ in range(4)]

    assert [reply.status for reply in replies] == [200] * 4
    assert replies[-1].body == "Banco PostgreSQL tem 5 registros. Redis conta 5 visitas."
    assert visit_counter.current() == 5


TOO_SLOW_PT = (
    "O banco de dados PostgreSQL demorou demais para responder; tente novamente em alguns "
    "instantes."
)
TOO_SLOW_EN = "The PostgreSQL database took too long to answer; please try again in a few moments."


def test_page_connection_gives_up_on_slow_queries_lock_waits_and_a_silent_network(db):
    assert session_timeouts() == ("5s", "2s")
    connection.ensure_connection()
    parameters = connection.connection.info.get_parameters()
    network = {name: parameters[name] for name in ("tcp_user_timeout", "keepalives_idle")}
    assert network == {"tcp_user_timeout": "3000", "keepalives_idle": "1"}


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
