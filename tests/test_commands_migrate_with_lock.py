"""manage.py migrate_with_lock: web containers starting together migrate once, never deadlock."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from tests.support.database import session_timeouts
from tests.support.servers import PROJECT_ROOT


@pytest.mark.processes
def test_migrate_with_lock_started_three_times_at_once_migrates_once(empty_database):
    """Including 0004's CREATE INDEX CONCURRENTLY, which waits out every open snapshot."""
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate_with_lock", "--verbosity", "1"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DB_NAME": empty_database},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert sum("Applying visits.0004_access_address_index... OK" in out for out in outputs) == 1
    assert sum("No migrations to apply." in output for output in outputs) == 2


def test_migrate_with_lock_lifts_the_page_timeouts_on_its_connection(db):
    try:
        call_command("migrate_with_lock", verbosity=0)
        assert session_timeouts() == ("0", "0")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout; RESET lock_timeout")
    assert session_timeouts() == ("5s", "2s")
