"""manage.py ensure_app_role: the non-superuser role the service connects as."""

import os
import secrets
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from devservices.servers import free_port
from tests.support.database import postgres_admin
from tests.support.servers import PROJECT_ROOT

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("real_services")]


class Cluster:
    """A database and a role of the test's own on the test PostgreSQL, both dropped afterwards."""

    def __init__(self) -> None:
        self.suffix = secrets.token_hex(4)
        self.database = f"visits_test_role_{self.suffix}"
        self.role = f"visits_test_app_{self.suffix}"
        self.admin = postgres_admin()

    def create(self) -> None:
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def remove(self) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database))
        )
        self.admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))
        self.admin.close()

    def environment(self) -> dict[str, str]:
        """The test's database and role, with the admin's credentials."""
        return {
            **os.environ,
            "DB_NAME": self.database,
            "DB_USER": self.role,
            "DB_PASS": "role-password",
            "DB_ADMIN_USER": os.environ.get("DB_USER", "postgres"),
            "DB_ADMIN_PASS": os.environ.get("DB_PASS", ""),
        }

    def manage(self, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
        """manage.py on the test's database as the test's role, with the admin's credentials."""
        return subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=PROJECT_ROOT,
            env={**self.environment(), **environment},
            capture_output=True,
            text=True,
            check=False,
        )

    def query(self, statement: str, parameters=()) -> list[tuple]:
        """Rows of `statement`, run as the admin in the test's database."""
        with psycopg.connect(
            **{**self.admin.info.get_parameters(), "dbname": self.database},
            password=os.environ.get("DB_PASS") or None,
        ) as connection:
            return connection.execute(statement, parameters).fetchall()

    def password_hash(self) -> str:
        [(hashed,)] = self.query(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [self.role]
        )
        return hashed


@pytest.fixture
def cluster():
    cluster = Cluster()
    cluster.create()
    yield cluster
    cluster.remove()


def test_ensure_app_role_creates_a_login_role_that_owns_the_database(cluster):
    result = cluster.manage("ensure_app_role")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"The role {cluster.role} owns the database {cluster.database}.\n"
    attributes = cluster.query(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
        [cluster.role],
    )
    assert attributes == [(True, False, False, False)]
    assert cluster.password_hash().startswith("SCRAM-SHA-256$")
    assert cluster.query(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [cluster.database]
    ) == [(cluster.role,)]
    assert cluster.query(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'"
    ) == [(cluster.role,)]


def test_ensure_app_role_takes_over_what_the_admin_migrated_then_the_role_migrates_on(cluster):
    # An install from before the role existed: everything migrated, and owned, by the admin.
    admin = {
        "DB_USER": os.environ.get("DB_USER", "postgres"),
        "DB_PASS": os.environ.get("DB_PASS", ""),
    }
    assert cluster.manage("migrate", "visits", "0003", **admin).returncode == 0

    result = cluster.manage("ensure_app_role")
    migrated = cluster.manage("migrate", "--noinput")

    assert result.returncode == 0, result.stderr
    assert migrated.returncode == 0, migrated.stderr
    owners = cluster.query(
        "SELECT DISTINCT relowner::regrole::text FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace "
        "UNION SELECT DISTINCT proowner::regrole::text FROM pg_proc "
        "WHERE pronamespace = 'public'::regnamespace"
    )
    assert owners == [(cluster.role,)]


def test_ensure_app_role_takes_a_role_name_that_needs_quoting(cluster):
    cluster.role = f"Visits-App-{cluster.suffix}"

    admin = {
        "DB_USER": os.environ.get("DB_USER", "postgres"),
        "DB_PASS": os.environ.get("DB_PASS", ""),
    }
    result = cluster.manage("migrate", "visits", "0003", **admin)
    handed_over = cluster.manage("ensure_app_role")
    migrated = cluster.manage("migrate", "--noinput")

    assert result.returncode == 0, result.stderr
    assert handed_over.returncode == 0, handed_over.stderr
    assert migrated.returncode == 0, migrated.stderr
    assert cluster.query(
        "SELECT DISTINCT relowner::regrole::text FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace"
    ) == [(f'"{cluster.role}"',)]


def test_ensure_app_role_run_again_changes_the_password_and_nothing_else(cluster):
    cluster.manage("ensure_app_role")
    before = cluster.password_hash()

    again = cluster.manage("ensure_app_role", DB_PASS="a-new-password")

    assert again.returncode == 0, again.stderr
    assert cluster.password_hash() != before
    assert cluster.query(
        "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", [cluster.role]
    ) == [(True, False)]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"DB_ADMIN_USER": ""},
            "DB_ADMIN_USER is not set; set it and DB_ADMIN_PASS to a role that may create "
            "roles, such as postgres.",
        ),
        (
            {"DB_USER": "postgres"},
            "DB_USER is postgres, the administrator itself; set DB_USER to the role the "
            "service should connect as, such as visits.",
        ),
        ({"DB_PASS": ""}, "DB_PASS is empty; set DB_PASS or DB_PASS_FILE to the role's password."),
    ],
)
def test_ensure_app_role_refuses_a_setting_it_cannot_use_in_one_line(cluster, environment, message):
    result = cluster.manage("ensure_app_role", **environment)

    assert result.returncode == 1
    assert result.stderr == f"CommandError: {message}\n"


def test_ensure_app_role_refuses_a_superuser_role(cluster):
    cluster.admin.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(cluster.role)))

    result = cluster.manage("ensure_app_role")

    assert result.returncode == 1
    assert result.stderr == (
        f"CommandError: The role {cluster.role} is a superuser, which the service must not "
        "connect as; set DB_USER to another name, or remove its superuser attribute.\n"
    )


def test_ensure_app_role_run_four_times_at_once_creates_the_role_once(cluster):
    """Kubernetes starts every new web pod's init step at once, on a fresh install too."""
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "ensure_app_role"],
            cwd=PROJECT_ROOT,
            env=cluster.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]

    assert [run.returncode for run in runs] == [0] * 4, outputs
    assert cluster.query("SELECT count(*) FROM pg_roles WHERE rolname = %s", [cluster.role]) == [
        (1,)
    ]


def test_ensure_app_role_waits_for_postgresql_then_gives_up_in_one_sentence(cluster):
    port = free_port()

    result = cluster.manage("ensure_app_role", DB_PORT=str(port), WAIT_TIMEOUT="1.5")

    assert result.returncode == 1
    assert result.stdout == (
        f"Waiting up to 1.5 s for PostgreSQL at {os.environ['DB_HOST']}:{port} to let "
        f"{os.environ.get('DB_USER', 'postgres')} in (WAIT_TIMEOUT).\n"
    )
    assert result.stderr.startswith(
        f"CommandError: Could not connect to {cluster.database} as "
        f"{os.environ.get('DB_USER', 'postgres')} within 1.5 seconds ("
    )
    assert result.stderr.endswith("); check DB_HOST, DB_ADMIN_USER and DB_ADMIN_PASS.\n")
