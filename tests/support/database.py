"""The PostgreSQL the tests use, reached beside Django's own connection."""

import os
import threading

import psycopg
from django.db import connection


def postgres_admin() -> psycopg.Connection:
    """An autocommit connection to the maintenance database of the PostgreSQL the tests use."""
    return psycopg.connect(
        host=os.environ["DB_HOST"],
        port=os.environ.get("DB_PORT", "5432"),
        user=os.environ.get("DB_USER", "postgres"),
        password=os.environ.get("DB_PASS") or None,
        dbname="postgres",
        autocommit=True,
    )


def database_arguments() -> dict:
    """psycopg's connection arguments for the database Django's connection uses."""
    settings = connection.settings_dict
    return {
        "host": settings["HOST"],
        "port": settings["PORT"],
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
        "dbname": settings["NAME"],
    }


def session_timeouts() -> tuple[str, str]:
    """PostgreSQL's statement_timeout and lock_timeout on Django's connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        )
        return cursor.fetchone()


def add_to_slot(slot: int, amount: int) -> None:
    """Change one slot of the access count behind the triggers' back, as a manual edit would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO visits_accesscount AS counted (slot, count) VALUES (%s, %s) "
            "ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count",
            [slot, amount],
        )


def in_thread(function) -> threading.Thread:
    """Starts function on a thread of its own, which has its own database connection."""

    def target() -> None:
        try:
            function()
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread
