"""The migrations' triggers are PostgreSQL's: on any other database they stop with one sentence."""

import os
import subprocess
import sys

import pytest

from tests.support.servers import PROJECT_ROOT

pytestmark = pytest.mark.processes


def test_migrate_on_sqlite_stops_at_the_first_trigger_naming_postgresql(tmp_path):
    (tmp_path / "sqlite_settings.py").write_text(
        "from visits_project.settings import *\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {str(tmp_path / 'db.sqlite3')!r}}}}}\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "sqlite_settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "Applying visits.0001_initial... OK\n  Applying visits.0002_access_count..." in (
        result.stdout
    )
    assert result.stderr.splitlines()[-1] == (
        "django.db.utils.NotSupportedError: The visits app needs PostgreSQL, not SQLite: "
        "point DB_HOST, DB_PORT and DB_NAME at a PostgreSQL server, or unset DB_HOST for "
        "make run's own."
    )
