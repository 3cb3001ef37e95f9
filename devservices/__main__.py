"""
`make run`'s servers. Where DB_HOST is not set (unset or empty), it starts a
PostgreSQL of its own, and where CACHE_HOST is not set, a Redis, each keeping
its data between runs in VISITS_RUN_DIR (by default .run/ at the project's
root): postgresql/ and redis/. It says so in one line each, runs COMMAND
pointed at them, and stops them when COMMAND ends, Ctrl-C included. A server
that DB_HOST or CACHE_HOST names is used as it is, answering or not: one that
is down is reported by the service, never silently replaced. The servers'
programs are the machine's own, or else the server wheels' (devservices.programs).

Usage: python -m devservices [--] COMMAND [ARGUMENT...]
"""

import contextlib
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from devservices.launcher import Wanted, command_in, exit_with, launch
from devservices.servers import PrivatePostgres, PrivateRedis
from visits_project.env import env_str

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_folder() -> Path:
    # Where `make run` keeps the data of the PostgreSQL and Redis it starts itself.
    return Path(env_str("VISITS_RUN_DIR") or PROJECT_ROOT / ".run").absolute()


def shown(path: Path) -> str:
    """PATH as a person would type it: relative to the current folder when inside it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def announce(variable: str, product: str, port: int, folder: Path) -> None:
    print(
        f"{variable} is not set; starting {product} on 127.0.0.1:{port} "
        f"with its data in {shown(folder)}.",
        file=sys.stderr,
        flush=True,
    )


# What to do where a server's programs are missing; VISITS_SERVER_PROGRAMS=system
# is the one way to get there under `make run`, which installs the server wheels.
POSTGRES_MISSING = (
    "DB_HOST is not set, and no initdb and pg_ctl were found to start a PostgreSQL: "
    "install Debian's postgresql package, set PG_BINDIR to the folder that holds "
    "them, or set DB_HOST to a running server."
)
REDIS_MISSING = (
    "CACHE_HOST is not set, and no redis-server was found in PATH to start a Redis: "
    "install Debian's redis-server package, or set CACHE_HOST to a running server."
)


def create_database(port: int, name: str) -> None:
    """Creates the database NAME on the server at PORT, unless it exists already."""
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not exists.fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def start_postgres(cleanup: contextlib.ExitStack, environment: dict[str, str]) -> None:
    folder = run_folder() / "postgresql"
    postgres = PrivatePostgres(folder)
    announce("DB_HOST", "PostgreSQL", postgres.port, folder)
    cleanup.callback(postgres.stop)
    try:
        postgres.start()
    except subprocess.CalledProcessError:
        sys.exit(
            f"PostgreSQL did not start in {shown(folder)}; the lines above, or its log "
            f"{shown(folder / 'log')}, say why."
        )
    create_database(postgres.port, env_str("DB_NAME") or "visits")
    postgres.point(environment)


def start_redis(cleanup: contextlib.ExitStack, environment: dict[str, str]) -> None:
    folder = run_folder() / "redis"
    # Persistent: every increment is on disk before it is answered, so the
    # counter survives a restart as the rows do.
    redis = PrivateRedis(persistent=True, directory=folder)
    announce("CACHE_HOST", "Redis", redis.port, folder)
    cleanup.callback(redis.stop)
    redis.start()
    redis.point(environment)


def main(arguments: list[str]) -> int:
    command = command_in(arguments, __doc__.strip().splitlines()[-1])
    return launch(
        command,
        postgres=None if env_str("DB_HOST") else Wanted(start_postgres, POSTGRES_MISSING),
        redis=None if env_str("CACHE_HOST") else Wanted(start_redis, REDIS_MISSING),
    )


if __name__ == "__main__":
    exit_with(main)
