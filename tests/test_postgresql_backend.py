"""The PostgreSQL backend's health check, which polls the socket instead of querying."""

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname=settings["NAME"],
        autocommit=True,
    )


def test_is_usable_on_a_healthy_idle_connection_sends_no_query():
    connection.ensure_connection()
    connection.connection.execute("SELECT 'last query before the check'")
    backend_pid = connection.connection.info.backend_pid

    usable = connection.is_usable()

    with other_connection() as other:
        last_query = other.execute(
            "SELECT query FROM pg_stat_activity WHERE pid = %s", [backend_pid]
        ).fetchone()[0]
    assert usable is True
    assert last_query == "SELECT 'last query before the check'"


def test_is_usable_after_the_server_ended_the_connection_is_false():
    connection.ensure_connection()
    backend_pid = connection.connection.info.backend_pid
    with other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])

    usable = connection.is_usable()
    connection.close()

    assert usable is False
