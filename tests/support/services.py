"""
`make test` runs the suite through this module, which starts throwaway
PostgreSQL and Redis servers for the run (devservices.launcher, in temporary
folders on free ports, from the machine's programs or else the server wheels')
where none answers at the configured address
(DB_HOST/DB_PORT, CACHE_HOST/CACHE_PORT), and removes them afterwards, whatever
the outcome.

Usage: python -m tests.support.services [--] COMMAND [ARGUMENT...]
"""

import contextlib
import sys

from devservices.launcher import Wanted, command_in, exit_with, launch
from devservices.servers import PrivatePostgres, PrivateRedis, postgres_answers, redis_answers
from visits_project.env import env_int, env_str, exit_on_bad_configuration


def configured_address(host_variable: str, port_variable: str, default: int) -> tuple[str, int]:
    """The address the settings will read, with the settings' own error for a bad port."""
    with exit_on_bad_configuration():
        return env_str(host_variable), env_int(port_variable, default, minimum=1)


def postgres_missing(address: str) -> str:
    return (
        f"No PostgreSQL answers at {address}, and no initdb and pg_ctl were found to "
        "start one: install Debian's postgresql package, set PG_BINDIR to the folder that "
        "holds them, or point PG_HOST and PG_PORT at a running server."
    )


def redis_missing(address: str) -> str:
    return (
        f"No Redis answers at {address}, and no redis-server was found in PATH to start "
        "one: install Debian's redis-server package, or point REDIS_HOST and REDIS_PORT "
        "at a running server."
    )


def announce(service: str, address: str, port: int) -> None:
    print(
        f"No {service} answers at {address}; starting a throwaway one for this run "
        f"on 127.0.0.1:{port}.",
        file=sys.stderr,
        flush=True,
    )


def throwaway_postgres(address: str) -> Wanted:
    def start(cleanup: contextlib.ExitStack, environment: dict[str, str]) -> None:
        postgres = PrivatePostgres()
        cleanup.callback(postgres.remove)
        announce("PostgreSQL", address, postgres.port)
        postgres.start()
        postgres.point(environment)

    return Wanted(start, postgres_missing(address))


def throwaway_redis(address: str) -> Wanted:
    def start(cleanup: contextlib.ExitStack, environment: dict[str, str]) -> None:
        redis = PrivateRedis(persistent=False)
        cleanup.callback(redis.remove)
        announce("Redis", address, redis.port)
        redis.start()
        redis.point(environment)

    return Wanted(start, redis_missing(address))


def main(arguments: list[str]) -> int:
    command = command_in(arguments, __doc__.strip().splitlines()[-1])
    postgres = configured_address("DB_HOST", "DB_PORT", 5432)
    redis = configured_address("CACHE_HOST", "CACHE_PORT", 6379)
    return launch(
        command,
        postgres=None
        if postgres_answers(*postgres)
        else throwaway_postgres("{}:{}".format(*postgres)),
        redis=None if redis_answers(*redis) else throwaway_redis("{}:{}".format(*redis)),
    )


if __name__ == "__main__":
    exit_with(main)
