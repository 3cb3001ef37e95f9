"""
The statements migration 0002 ran to install the access-count triggers, which
0003 runs again to undo its own, and the check that stops each migration with
triggers on a database other than PostgreSQL. Not a migration (Django's loader skips names
that start with "_"), and frozen: a change to the triggers is a new migration.
The slot count, 16, is ACCESS_COUNT_SLOTS as it was; tests/test_triggers.py
checks the installed functions against the model.
"""

from django.db import NotSupportedError


def require_postgresql(schema_editor) -> None:
    """Stop a migration on any other database: the triggers are PostgreSQL's."""
    vendor = schema_editor.connection.display_name
    if schema_editor.connection.vendor != "postgresql":
        raise NotSupportedError(
            f"The visits app needs PostgreSQL, not {vendor}: point DB_HOST, DB_PORT and "
            "DB_NAME at a PostgreSQL server, or unset DB_HOST for make run's own."
        )


POSTGRESQL_INSTALL = [
    # Statement-level triggers with transition tables: a bulk insert or delete of
    # a million rows costs one slot update, not a million. An upsert, so that a
    # slot row need not exist beforehand.
    """
    CREATE FUNCTION visits_access_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO visits_accesscount AS counted (slot, count)
        SELECT mod(pg_backend_pid(), 16), count(*) FROM inserted_rows
        ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION visits_access_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO visits_accesscount AS counted (slot, count)
        SELECT mod(pg_backend_pid(), 16), -count(*) FROM deleted_rows
        ON CONFLICT (slot) DO UPDATE SET count = counted.count + EXCLUDED.count;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION visits_access_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM visits_accesscount;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER visits_access_count_insert AFTER INSERT ON visits_access
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION visits_access_count_inserted()
    """,
    """
    CREATE TRIGGER visits_access_count_delete AFTER DELETE ON visits_access
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION visits_access_count_deleted()
    """,
    """
    CREATE TRIGGER visits_access_count_truncate AFTER TRUNCATE ON visits_access
    FOR EACH STATEMENT EXECUTE FUNCTION visits_access_count_truncated()
    """,
]
POSTGRESQL_REMOVE = [
    "DROP TRIGGER visits_access_count_truncate ON visits_access",
    "DROP TRIGGER visits_access_count_delete ON visits_access",
    "DROP TRIGGER visits_access_count_insert ON visits_access",
    "DROP FUNCTION visits_access_count_truncated()",
    "DROP FUNCTION visits_access_count_deleted()",
    "DROP FUNCTION visits_access_count_inserted()",
]
