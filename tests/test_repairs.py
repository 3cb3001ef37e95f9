"""visits/repairs.py: how the repair commands see the access table, and for how long."""

import psycopg
import pytest
from django.core.management import CommandError
from django.db import connection, transaction

from tests.support.database import database_arguments, session_timeouts
from visits import repairs


def transaction_mode() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('transaction_isolation'), "
            "current_setting('transaction_read_only')"
        )
        return cursor.fetchone()


def insert_elsewhere(lock_timeout: str = "200ms") -> None:
    """One access inserted on a connection of its own, giving up after lock_timeout."""
    with psycopg.connect(**database_arguments(), autocommit=True) as other:
        other.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
        other.execute("INSERT INTO visits_access (user_agent) VALUES ('elsewhere')")


@pytest.mark.django_db
def test_set_timeouts_replaces_the_pages_timeouts_on_this_connection():
    try:
        repairs.set_timeouts(statement="30min", lock="5s")
        assert session_timeouts() == ("30min", "5s")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout; RESET lock_timeout")
    assert session_timeouts() == ("5s", "2s")


@pytest.mark.django_db(transaction=True)
def test_one_snapshot_is_a_read_only_repeatable_read_transaction():
    with repairs.one_snapshot():
        inside = transaction_mode()

    assert inside == ("repeatable read", "on")
    assert transaction_mode() == ("read committed", "off")


@pytest.mark.django_db(transaction=True)
def test_one_snapshot_within_a_transaction_keeps_that_ones_mode():
    with transaction.atomic(), repairs.one_snapshot():
        inside = transaction_mode()

    assert inside == ("read committed", "off")


@pytest.mark.django_db(transaction=True)
def test_inserts_paused_holds_inserts_until_it_ends():
    with repairs.inserts_paused(), pytest.raises(psycopg.errors.LockNotAvailable):
        insert_elsewhere()
    insert_elsewhere()

    with connection.cursor() as cursor:
        cursor.execute("SELECT user_agent FROM visits_access")
        assert cursor.fetchall() == [("elsewhere",)]


@pytest.mark.django_db(transaction=True)
def test_inserts_paused_gives_up_on_a_table_another_transaction_keeps_writing(monkeypatch):
    monkeypatch.setattr(repairs, "PAUSE_ATTEMPTS", 2)

    with psycopg.connect(**database_arguments()) as writer:
        writer.execute("INSERT INTO visits_access (user_agent) VALUES ('long transaction')")
        with pytest.raises(CommandError) as error, repairs.inserts_paused():
            pass
        writer.rollback()

    assert str(error.value) == (
        "The access table stayed busy (a long transaction writes to it); "
        "run this again when it ends."
    )
