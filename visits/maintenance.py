"""What the maintenance commands share."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def access_table_frozen() -> Iterator[None]:
    """
    A transaction in which no access row is written: readers go on, writers
    wait, so the counts read inside describe one moment. (SQLite's immediate
    transactions already hold its single write lock.)
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE visits_access IN SHARE MODE")
        yield


def set_timeouts(*, statement: str, lock: str) -> None:
    """
    Replace, for this connection, the page's short statement and lock timeouts
    (DB_STATEMENT_TIMEOUT, DB_LOCK_TIMEOUT) with a command's own; "0" is none.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, false), "
            "set_config('lock_timeout', %s, false)",
            [statement, lock],
        )
