"""manage.py ensure_schema as the entrypoint runs it: migrate, or wait for the step that does."""

import os
import subprocess
import sys

import pytest

from tests.support.servers import PROJECT_ROOT

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("real_services")]


def ensure_schema(database: str, **environment: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "ensure_schema", "--verbosity", "1"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DB_NAME": database, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def migrate(database: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate_with_lock", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DB_NAME": database},
        check=True,
        timeout=120,
    )


def test_ensure_schema_by_default_applies_the_migrations(empty_database):
    stdout, stderr = ensure_schema(empty_database).communicate(timeout=120)

    assert "Applying visits.0001_initial... OK" in stdout
    assert stderr == ""


def test_ensure_schema_without_migrating_waits_then_says_every_migration_is_applied(
    empty_database,
):
    waiting = ensure_schema(empty_database, MIGRATE_ON_START="false")
    migrate(empty_database)
    stdout, stderr = waiting.communicate(timeout=60)

    assert waiting.returncode == 0, stderr
    assert stdout.startswith("Waiting up to 300 s for the one-off migrate step to apply ")
    assert stdout.endswith(
        " first); this container does not migrate (MIGRATE_ON_START=false).\n"
        "Every migration is applied.\n"
    )
    assert "Applying" not in stdout


def test_ensure_schema_without_migrating_on_a_migrated_database_returns_at_once(empty_database):
    migrate(empty_database)

    run = ensure_schema(empty_database, MIGRATE_ON_START="false")
    stdout, stderr = run.communicate(timeout=60)

    assert (run.returncode, stdout, stderr) == (0, "Every migration is applied.\n", "")


def test_ensure_schema_without_migrating_gives_up_after_the_timeout_in_one_sentence(
    empty_database,
):
    run = ensure_schema(empty_database, MIGRATE_ON_START="false", MIGRATION_WAIT_TIMEOUT="1.5")
    stdout, stderr = run.communicate(timeout=60)
    pending = stdout.removeprefix("Waiting up to 1.5 s for the one-off migrate step to apply ")
    described = pending.split("; this container does not migrate")[0]

    assert run.returncode == 1
    assert stderr == (
        f"CommandError: Still waiting for {described} after 1.5 seconds; run the deployment's "
        "migrate step (manage.py migrate_with_lock) and read its log.\n"
    )
    assert described.endswith(" migrations (contenttypes.0001_initial first)")
