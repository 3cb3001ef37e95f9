"""
Brings the database's schema up to what this code needs before web serves, in
one of two ways, as the web container starts. Where one runs (docker/up, Compose)
it applies the migrations itself, under migrate_with_lock's lock. Where several
run (Swarm, Kubernetes), a one-off step migrates and web waits for it
(MIGRATE_ON_START=false): a migration then runs outside every health check's
window, and no replica is killed halfway through one.
"""

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from visits_project.env import env_bool, env_float

RETRY_SECONDS = 1


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Apply the migrations under the migration lock (MIGRATE_ON_START, true by default), or "
        "wait until the deployment's one-off step has applied them all (false), failing after "
        "--timeout seconds (default: MIGRATION_WAIT_TIMEOUT, or 300)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float)

    def handle(self, *args: Any, timeout: float | None, **options: Any) -> None:
        # true: web applies the migrations as it starts, under a lock. false: a one-off
        # step applies them (Swarm's db-setup, Kubernetes' init step) and web waits.
        if env_bool("MIGRATE_ON_START", True):
            call_command("migrate_with_lock", verbosity=options["verbosity"])
            return
        if timeout is None:
            # With MIGRATE_ON_START=false, seconds web waits for the one-off step's
            # migrations before it gives up.
            timeout = env_float("MIGRATION_WAIT_TIMEOUT", 300.0)
        self._wait_for_migrations(timeout)

    def _wait_for_migrations(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        announced = False
        while (pending := unapplied_migrations()) is None or pending:
            waiting_for = _described(pending)
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"Still waiting for {waiting_for} after {timeout:g} seconds; run the "
                    "deployment's migrate step (manage.py migrate_with_lock) and read its log."
                )
            if not announced:
                self.stdout.write(
                    f"Waiting up to {timeout:g} s for the one-off migrate step to apply "
                    f"{waiting_for}; this container does not migrate (MIGRATE_ON_START=false)."
                )
                announced = True
            time.sleep(RETRY_SECONDS)
        self.stdout.write("Every migration is applied.")


def unapplied_migrations() -> list[str] | None:
    """This code's migrations the database lacks, in order; None while it cannot be asked."""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        connection.close_if_unusable_or_obsolete()
        return None
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _described(pending: list[str] | None) -> str:
    if pending is None:
        return "the database"
    if len(pending) <= 3:
        return ", ".join(pending)
    return f"{len(pending)} migrations ({pending[0]} first)"
