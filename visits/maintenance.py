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
