import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.backends.utils import CursorWrapper

from visits.repairs import set_timeouts

# Any constant shared by every instance of the service; "visits" in ASCII.
MIGRATION_LOCK_ID = 0x766973697473
RETRY_SECONDS = 0.5


class Command(BaseCommand):
    help = (
        "Apply migrations while holding a PostgreSQL advisory lock, so that several web "
        "containers starting at once against an empty database apply them exactly once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # A migration takes as long as it takes: CREATE INDEX CONCURRENTLY on a
        # large table runs for minutes, without holding page views.
        set_timeouts(statement="0", lock="0")
        with connection.cursor() as cursor:
            # Session-level lock: the others wait here, then find nothing left to apply.
            # They ask again and again rather than block in pg_advisory_lock: a blocked
            # statement keeps its snapshot open, and CREATE INDEX CONCURRENTLY, run by
            # the holder, waits for every such snapshot to end; a deadlock.
            while not self._try_lock(cursor):
                time.sleep(RETRY_SECONDS)
            try:
                call_command("migrate", interactive=False, verbosity=options["verbosity"])
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])

    @staticmethod
    def _try_lock(cursor: CursorWrapper) -> bool:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        locked: bool = cursor.fetchone()[0]
        return locked
