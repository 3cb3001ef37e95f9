import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from visits import health
from visits_project.env import env_float

RETRY_SECONDS = 1


class Command(BaseCommand):
    requires_system_checks = []  # migrate runs them, once, before serving
    help = (
        "Wait until the database answers a query and the cache answers PING, or fail after "
        "--timeout seconds (default: WAIT_TIMEOUT, or 60) naming the address and the variables "
        "to fix. --database-only waits for the database alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float)
        # The web container's start (docker/entrypoint): without Redis the page
        # still answers, so a replica never waits for it.
        parser.add_argument("--database-only", action="store_true")

    def handle(
        self, *args: Any, timeout: float | None, database_only: bool = False, **options: Any
    ) -> None:
        if timeout is None:
            # Seconds wait_for_services (as the container starts) and ensure_app_role
            # wait for their services before failing with what to fix.
            timeout = env_float("WAIT_TIMEOUT", 60.0)
        deadline = time.monotonic() + timeout
        self._wait(health.database_state, deadline, timeout, self._database_hint())
        if not database_only:
            self._wait(health.cache_state, deadline, timeout, self._cache_hint())

    def _wait(
        self,
        probe: Callable[[], health.DependencyState],
        deadline: float,
        timeout: float,
        hint: str,
    ) -> None:
        while True:
            state = probe()
            if state.up:
                self.stdout.write(f"{state.product} is up.")
                return
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"{state.product} did not answer within {timeout:g} seconds ({state.problem}); "
                    f"{hint}"
                )
            time.sleep(RETRY_SECONDS)

    @staticmethod
    def _database_hint() -> str:
        database = settings.DATABASES["default"]
        return (
            f"check that it runs at {database.get('HOST')}:{database.get('PORT')} "
            "as DB_HOST and DB_PORT say, and that DB_NAME, DB_USER and DB_PASS match it."
        )

    @staticmethod
    def _cache_hint() -> str:
        location = settings.CACHES["default"].get("LOCATION", "")
        return f"check that it runs at {location} as CACHE_HOST, CACHE_PORT and CACHE_DB say."
