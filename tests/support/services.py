"""
`make test` runs the suite through this module, which starts throwaway
PostgreSQL and Redis servers for the run (devservices.servers, in temporary
folders on free ports) where none answers at the configured address
(DB_HOST/DB_PORT, CACHE_HOST/CACHE_PORT), and removes them afterwards, whatever
the outcome.

Usage: python -m tests.support.services [--] COMMAND [ARGUMENT...]
"""

import contextlib
import os
import shutil
import signal
import sys

from devservices.servers import (
    PrivatePostgres,
    PrivateRedis,
    postgres_answers,
    postgres_bindir,
    redis_answers,
    run,
)
from visits_project.env import env_int, env_str, exit_on_bad_configuration


def configured_address(host_variable: str, port_variable: str, default: int) -> tuple[str, int]:
    """The address the settings will read, with the settings' own error for a bad port."""
    with exit_on_bad_configuration():
        return env_str(host_variable), env_int(port_variable, default, minimum=1)


def missing_programs(postgres_at: str | None, redis_at: str | None) -> list[str]:
    """One sentence for each throwaway server this machine has no program for."""
    problems = []
    if postgres_at and postgres_bindir() is None:
        problems.append(
            f"No PostgreSQL answers at {postgres_at}, and no initdb and pg_ctl were found to "
            "start one: install Debian's postgresql package, set PG_BINDIR to the folder that "
            "holds them, or point PG_HOST and PG_PORT at a running server."
        )
    if redis_at and shutil.which("redis-server") is None:
        problems.append(
            f"No Redis answers at {redis_at}, and no redis-server was found in PATH to start "
            "one: install Debian's redis-server package, or point REDIS_HOST and REDIS_PORT "
            "at a running server."
        )
    return problems


def announce(service: str, address: str, port: int) -> None:
    print(
        f"No {service} answers at {address}; starting a throwaway one for this run "
        f"on 127.0.0.1:{port}.",
        file=sys.stderr,
        flush=True,
    )


def with_throwaways(
    cleanup: contextlib.ExitStack, postgres_at: str | None, redis_at: str | None
) -> dict[str, str]:
    """The environment, pointed at a throwaway server started for each address given."""
    environment = dict(os.environ)
    if postgres_at:
        postgres = PrivatePostgres()
        cleanup.callback(postgres.remove)
        announce("PostgreSQL", postgres_at, postgres.port)
        postgres.start()
        postgres.point(environment)
    if redis_at:
        redis = PrivateRedis(persistent=False)
        cleanup.callback(redis.remove)
        announce("Redis", redis_at, redis.port)
        redis.start()
        redis.point(environment)
    return environment


def main(arguments: list[str]) -> int:
    command = arguments[1:] if arguments[:1] == ["--"] else arguments
    if not command:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    postgres = configured_address("DB_HOST", "DB_PORT", 5432)
    redis = configured_address("CACHE_HOST", "CACHE_PORT", 6379)
    postgres_at = None if postgres_answers(*postgres) else "{}:{}".format(*postgres)
    redis_at = None if redis_answers(*redis) else "{}:{}".format(*redis)
    if problems := missing_programs(postgres_at, redis_at):
        print("\n".join(problems), file=sys.stderr)
        return 2
    with contextlib.ExitStack() as cleanup:
        return run(command, with_throwaways(cleanup, postgres_at, redis_at))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        # Interrupted while starting the servers, which are already removed.
        sys.exit(128 + signal.SIGINT)
