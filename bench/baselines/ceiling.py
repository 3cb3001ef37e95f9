"""
The practical ceiling of a Python stack here: a WSGI callable with no framework
doing the page's own work, as the page does it (one statement inserts the access
row and reads the trigger-kept count, then one INCR), over a PostgreSQL
connection that persists per thread. The benchmark serves it under gunicorn with
its own best settings.
"""

import os
import threading

import psycopg
import redis

_local = threading.local()
_cache = redis.Redis(host=os.environ["CACHE_HOST"], port=int(os.environ.get("CACHE_PORT", 6379)))
COUNTER_KEY = os.environ["COUNTER_KEY"]
# visits/access_queries.py's statement, with the same tables and triggers.
STORE_ACCESS = (
    "INSERT INTO visits_access (client_address, user_agent) VALUES (%s, %s) "
    "RETURNING id, (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount) + 1"
)


def _database() -> psycopg.Connection:
    if getattr(_local, "connection", None) is None:
        _local.connection = psycopg.connect(
            host=os.environ["DB_HOST"],
            port=os.environ.get("DB_PORT", "5432"),
            dbname=os.environ["DB_NAME"],
            user=os.environ["DB_USER"],
            password=os.environ.get("DB_PASS", ""),
            autocommit=True,
        )
    return _local.connection


def application(environ, start_response):
    if environ["PATH_INFO"] != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b""]
    row = (
        _database()
        .execute(
            STORE_ACCESS,
            (environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT", "")[:512]),
        )
        .fetchone()
    )
    visits = _cache.incr(COUNTER_KEY)
    body = f"Banco PostgreSQL tem {row[1]} registros. Redis conta {visits} visitas.".encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
