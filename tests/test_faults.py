"""Outages of Redis and PostgreSQL, with real servers stopped and started again."""

import json
import os
import subprocess
import sys

import redis

from tests.servers import PROJECT_ROOT
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
    assert "WARNING visits.visit_counter: Visit not counted: the cache is unreachable" in (
        server.log()
    )

    private_redis.start()
    recovered = server.get("/")

    assert recovered.body == "Banco PostgreSQL tem 5 registros. Redis conta 2 visitas."
    assert Access.objects.count() == 5
    assert int(counter.get("visits-test:1:visit-counter")) == 2


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
    assert visit_counter.current() == 1
    assert "Traceback" not in plain.body + as_json.body

    private_postgres.start()
    replies = [server.get("/") for _ in range(4)]

    assert [reply.status for reply in replies] == [200] * 4
    assert replies[-1].body == "Banco PostgreSQL tem 5 registros. Redis conta 5 visitas."
    assert visit_counter.current() == 5
