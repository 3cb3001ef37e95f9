"""
The outline that `make run` (python -m devservices) and `make test`
(tests/support/services.py) share: check that the programs of the servers to
start are there, say whose wheels they are if they are not the machine's own,
start the servers, run the command on them, and stop them whatever happens,
Ctrl-C included. Each entry point decides which servers to start, where, and
what to say when their programs are missing.
"""

import contextlib
import os
import pwd
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from devservices.programs import announce_wheels, postgres_bindir, redis_server

# The entry point's own start: it announces the server, starts it, registers its
# stop or removal with the ExitStack, and points the environment at it.
Start = Callable[[contextlib.ExitStack, dict[str, str]], None]


@dataclass(frozen=True)
class Wanted:
    """A server to start for the command, and the sentence for a machine without its programs."""

    start: Start
    missing: str


def command_in(arguments: list[str], usage: str) -> list[str]:
    """The command after an optional --; without one, USAGE and exit status 2."""
    command = arguments[1:] if arguments[:1] == ["--"] else arguments
    if not command:
        print(usage, file=sys.stderr)
        sys.exit(2)
    return command


def problems(postgres: Wanted | None, redis: Wanted | None) -> list[str]:
    """One sentence for each server that cannot be started here."""
    found = []
    if postgres and postgres_bindir() is None:
        found.append(postgres.missing)
    elif postgres and os.geteuid() == 0 and not _has_user("postgres"):
        found.append(
            "PostgreSQL refuses to run as root, and there is no postgres user to run it as: "
            "run this as another user, or add one (useradd --system postgres)."
        )
    if redis and redis_server() is None:
        found.append(redis.missing)
    return found


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def launch(command: list[str], *, postgres: Wanted | None, redis: Wanted | None) -> int:
    """Runs COMMAND on the servers wanted, started for it; its exit status, or 2 if none can be."""
    if found := problems(postgres, redis):
        print("\n".join(found), file=sys.stderr)
        return 2
    announce_wheels(postgres=postgres is not None, redis=redis is not None)
    environment = dict(os.environ)
    with contextlib.ExitStack() as cleanup:
        for wanted in (postgres, redis):
            if wanted:
                wanted.start(cleanup, environment)
        return run(command, environment)


def run(command: list[str], environment: dict[str, str]) -> int:
    """
    Runs COMMAND to its end and returns its exit status as a shell would. A
    Ctrl-C reaches the command from the terminal, which is left to finish
    its own cleanup; a SIGTERM or SIGHUP is passed on to it.
    """
    process = subprocess.Popen(command, env=environment)

    def pass_on(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, lambda _signum, _frame: None),
        signal.SIGTERM: signal.signal(signal.SIGTERM, pass_on),
        signal.SIGHUP: signal.signal(signal.SIGHUP, pass_on),
    }
    try:
        status = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status if status >= 0 else 128 - status


def exit_with(main: Callable[[list[str]], int]) -> NoReturn:
    """Exits with MAIN's status for the command line; a Ctrl-C while starting, as one."""
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        # Interrupted while starting the servers, which the ExitStack has already stopped.
        sys.exit(128 + signal.SIGINT)
