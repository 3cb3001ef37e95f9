# Written by hand: an UPDATE that moves an access to another hour (the admin,
# raw SQL, a data fix) moves it in the hourly counts too. The total is unchanged
# by any UPDATE, so only the hourly counts need this trigger.

from django.db import migrations

from visits.migrations._access_count_triggers import require_postgresql

# Statement-level, like the others, with both transition tables: each hour gets
# one upsert per statement, however many rows moved. PostgreSQL refuses
# transition tables on "UPDATE OF created_at", so it fires on every UPDATE and
# writes nothing when no hour changed.
POSTGRESQL_INSTALL = [
    """
    CREATE FUNCTION visits_access_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO visits_hourlyaccesscount AS hourly (hour, slot, count)
        SELECT hour, mod(pg_backend_pid(), 16), sum(change) FROM (
            SELECT date_trunc('hour', created_at, 'UTC') AS hour, -1 AS change FROM old_rows
            UNION ALL
            SELECT date_trunc('hour', created_at, 'UTC'), 1 FROM new_rows
        ) AS moved
        GROUP BY hour HAVING sum(change) <> 0
        ON CONFLICT (hour, slot) DO UPDATE SET count = hourly.count + EXCLUDED.count;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER visits_access_count_update AFTER UPDATE ON visits_access
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION visits_access_count_updated()
    """,
]
POSTGRESQL_REMOVE = [
    "DROP TRIGGER visits_access_count_update ON visits_access",
    "DROP FUNCTION visits_access_count_updated()",
]


def install_trigger(apps, schema_editor):
    _execute(schema_editor, POSTGRESQL_INSTALL)


def remove_trigger(apps, schema_editor):
    _execute(schema_editor, POSTGRESQL_REMOVE)


def _execute(schema_editor, statements: list[str]) -> None:
    require_postgresql(schema_editor)
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0004_access_address_index"),
    ]

    operations = [
        migrations.RunPython(install_trigger, remove_trigger),
    ]
