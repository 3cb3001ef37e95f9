"""What the repair commands share: their timeouts, and how each sees the access table."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError
from django.db import OperationalError, connection, transaction

# A repair reads the whole access table, seconds per ten million rows; it must
# not wait long for a lock, since page views would queue behind it.
REPAIR_STATEMENT_TIMEOUT = "30min"
REPAIR_LOCK_TIMEOUT = "5s"
# How long inserts may be held up while the rebuild waits for its lock, and how
# often it tries before it gives up.
PAUSE_LOCK_TIMEOUT = "50ms"
PAUSE_ATTEMPTS = 20
PAUSE_RETRY_SECONDS = 0.25


def set_timeouts(*, statement: str, lock: str) -> None:
    """
    Replace, for this connection, the page's short statement and lock timeouts
    (DB_STATEMENT_TIMEOUT, DB_LOCK_TIMEOUT) with a command's own; "0" is none.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, false), "
            "set_config('lock_timeout', %s, false)",
            [statement, lock],
        )


@contextmanager
def one_snapshot() -> Iterator[None]:
    """
    A read-only transaction that sees the database as of one moment while
    writers go on: every access and the counts its triggers wrote are either
    both visible or both not. Within a transaction begun before, that one's.
    """
    begins_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if begins_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextmanager
def inserts_paused() -> Iterator[None]:
    """
    A transaction in which no access is being inserted, nor will be until it
    ends: every access that has an id is committed. Page views wait for it, so
    keep it to milliseconds.
    """
    with transaction.atomic():
        _lock_out_inserts()
        yield


def _lock_out_inserts() -> None:
    """
    Take the lock only when it comes within PAUSE_LOCK_TIMEOUT: while a lock is
    awaited, page views queue behind it, so a long wait is given up and tried
    again a little later.
    """
    for attempt in range(1, PAUSE_ATTEMPTS + 1):
        try:
            # A savepoint, so that a lock timeout leaves the transaction usable.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [PAUSE_LOCK_TIMEOUT])
                cursor.execute("LOCK TABLE visits_access IN SHARE MODE")
            return
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != "55P03":
                raise
            if attempt == PAUSE_ATTEMPTS:
                raise CommandError(
                    "The access table stayed busy (a long transaction writes to it); "
                    "run this again when it ends."
                ) from error
        time.sleep(PAUSE_RETRY_SECONDS)
