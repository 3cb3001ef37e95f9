"""
The practical ceiling of a Python stack here: a WSGI callable with no framework
doing the same work as the visits page (insert an access row, read the
trigger-kept count, INCR the Redis counter) over connections that persist per
thread. The benchmark serves it with the project's gunicorn settings.
"""

import os
import threading

import psycopg
import redis

_local = threading.local()
_cache = redis.Redis(host=os.environ["CACHE_HOST"], port=int(os.environ.get("CACHE_PORT", 6379)))
COUNTER_KEY = os.environ["COUNTER_KEY"]


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
    database = _database()
    database.execute(
        "INSERT INTO visits_access (client_address, user_agent) VALUES (%s, %s)",
        (environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT", "")[:512]),
    )
    accesses = database.execute(
        "SELECT COALESCE(SUM(count), 0) FROM visits_accesscount"
    ).fetchone()[0]
    visits = _cache.incr(COUNTER_KEY)
    body = f"Banco PostgreSQL tem {accesses} registros. Redis conta {visits} visitas.".encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
