"""
Creates the PostgreSQL role the service connects as, or brings it up to date:
a role that can log in with DB_PASS, owns the database DB_NAME, its public
schema and everything in it, and is not a superuser. It connects as an
administrator (DB_ADMIN_USER with DB_ADMIN_PASS or DB_ADMIN_PASS_FILE), whose
password the service itself then never needs. The stacks this project starts run
it once per deploy, before web (docker/up, compose.yaml, the Swarm stack's
db-setup), or in each Kubernetes web pod's first init step.
"""

import time
from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from visits_project.env import env_float, env_secret, env_str

# Any constant shared by every instance of the service; "role" in ASCII.
APP_ROLE_LOCK_ID = 0x726F6C65
RETRY_SECONDS = 1

# What in the public schema the role must own to migrate it: tables, views and
# sequences that no table owns (those follow their table), and functions.
_FOREIGN_RELATIONS = """
    SELECT c.oid::regclass::text FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
"""
_FOREIGN_ROUTINES = """
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
"""


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Create or update the non-superuser role the service connects as (DB_USER, DB_PASS) "
        "and make it the owner of DB_NAME, connecting as DB_ADMIN_USER."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        database: dict[str, Any] = settings.DATABASES["default"]
        role, password = database["USER"], database["PASSWORD"]
        admin = self._admin_user(role, password, database)
        connection = self._connect(database, admin, env_float("WAIT_TIMEOUT", 60.0))
        with connection, connection.transaction():
            # Several web pods may run this at once (Kubernetes' init step): one at a time.
            connection.execute("SELECT pg_advisory_xact_lock(%s)", [APP_ROLE_LOCK_ID])
            self._ensure_role(connection, role, password)
            self._hand_over(connection, role, database["NAME"])
        self.stdout.write(f"The role {role} owns the database {database['NAME']}.")

    def _connect(self, database: dict[str, Any], admin: str, timeout: float) -> psycopg.Connection:
        """Connects as ADMIN, trying again for up to TIMEOUT seconds while the server starts."""
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                return psycopg.connect(
                    host=database["HOST"],
                    port=database["PORT"],
                    dbname=database["NAME"],
                    user=admin,
                    # DB_ADMIN_USER's password, read by ensure_app_role alone: the service
                    # itself never holds it.
                    password=env_secret("DB_ADMIN_PASS") or None,
                    connect_timeout=database["OPTIONS"].get("connect_timeout", 3),
                    autocommit=True,
                )
            except psycopg.OperationalError as error:
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"Could not connect to {database['NAME']} as {admin} within {timeout:g} "
                        f"seconds ({error}); check DB_HOST, DB_ADMIN_USER and DB_ADMIN_PASS."
                    ) from None
            if not announced:
                self.stdout.write(
                    f"Waiting up to {timeout:g} s for PostgreSQL at {database['HOST']}:"
                    f"{database['PORT']} to let {admin} in (WAIT_TIMEOUT)."
                )
                announced = True
            time.sleep(RETRY_SECONDS)

    @staticmethod
    def _admin_user(role: str, password: str, database: dict[str, Any]) -> str:
        if database["ENGINE"] != "visits.postgresql":
            raise CommandError("ensure_app_role manages PostgreSQL roles; set DB_HOST.")
        # The administrator (a role that may create roles, such as postgres) that
        # ensure_app_role signs in as to create or update the role DB_USER.
        admin = env_str("DB_ADMIN_USER")
        if not admin:
            raise CommandError(
                "DB_ADMIN_USER is not set; set it and DB_ADMIN_PASS to a role that may create "
                "roles, such as postgres."
            )
        if role == admin:
            raise CommandError(
                f"DB_USER is {role}, the administrator itself; set DB_USER to the role the "
                "service should connect as, such as visits."
            )
        if not password:
            raise CommandError(
                "DB_PASS is empty; set DB_PASS or DB_PASS_FILE to the role's password."
            )
        return admin

    @staticmethod
    def _ensure_role(connection: psycopg.Connection, role: str, password: str) -> None:
        found = connection.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone()
        if found and found[0]:
            raise CommandError(
                f"The role {role} is a superuser, which the service must not connect as; set "
                "DB_USER to another name, or remove its superuser attribute."
            )
        # Hashed here, so the password never reaches the server's logs in clear.
        hashed = connection.pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256"
        ).decode()
        statement = (
            "ALTER ROLE {} LOGIN PASSWORD {}" if found else "CREATE ROLE {} LOGIN PASSWORD {}"
        )
        connection.execute(sql.SQL(statement).format(sql.Identifier(role), sql.Literal(hashed)))

    @staticmethod
    def _hand_over(connection: psycopg.Connection, role: str, database: str) -> None:
        owner = sql.Identifier(role)
        connection.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), owner)
        )
        connection.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))
        for query, kind in [(_FOREIGN_RELATIONS, "TABLE"), (_FOREIGN_ROUTINES, "ROUTINE")]:
            for (name,) in connection.execute(query, {"role": role}).fetchall():
                # name is already quoted by PostgreSQL's own regclass/regprocedure output.
                connection.execute(
                    sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), sql.SQL(name), owner)
                )
