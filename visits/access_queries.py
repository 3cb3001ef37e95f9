"""
The page's hot path in SQL: store an access and read the access count.

Plain SQL, because the ORM's insert and aggregate cost more CPU than the
queries themselves (docs/benchmark.md, "The hot path"). The table and column
names come from the models, once, at import.
"""

from typing import NamedTuple

from django.db import connections, models, router

from visits.models import Access, AccessCountSlot


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    # Every name here is one of the model's own columns, never a relation.
    assert isinstance(field, models.Field)
    assert field.column
    return field.column


# The names are the models' own, never input; the values go as parameters.
_ACCESS_COUNT_SQL = (
    f"SELECT CAST(COALESCE(SUM({_column(AccessCountSlot, 'count')}), 0) AS BIGINT) "  # noqa: S608
    f"FROM {AccessCountSlot._meta.db_table}"
)
_STORE_ACCESS_SQL = (
    f"INSERT INTO {Access._meta.db_table} "  # noqa: S608
    f"({_column(Access, 'client_address')}, {_column(Access, 'user_agent')}) VALUES (%s, %s) "
    f"RETURNING {_column(Access, 'id')}, ({_ACCESS_COUNT_SQL}) + 1"
)


class StoredAccess(NamedTuple):
    access_id: int
    access_count: int  # the number of accesses, this one included


def store_access(*, client_address: str | None, user_agent: str) -> StoredAccess:
    """
    Insert one access and return its id and the access count, this one
    included, in one round trip.

    The subquery reads the access count as of this statement's snapshot, before
    its trigger adds this row: plus one, it equals what count(*) would return
    at that moment.
    """
    connection = connections[router.db_for_write(Access)]
    with connection.cursor() as cursor:
        cursor.execute(_STORE_ACCESS_SQL, [client_address, user_agent])
        return StoredAccess(*cursor.fetchone())


def access_count() -> int:
    """The number of accesses, summed over the slots in constant time."""
    with connections[router.db_for_read(AccessCountSlot)].cursor() as cursor:
        cursor.execute(_ACCESS_COUNT_SQL)
        count: int = cursor.fetchone()[0]
        return count
