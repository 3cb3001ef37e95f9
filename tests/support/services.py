"""
PostgreSQL and Redis servers of the suite's own, in temporary folders on free
ports. The fault tests start private ones to stop them at will; `make test` runs
the suite through this module, which starts throwaway ones for the run where
none answers at the configured address (DB_HOST/DB_PORT, CACHE_HOST/CACHE_PORT)
and removes them afterwards, whatever the outcome.

Usage: python -m tests.support.services [--] COMMAND [ARGUMENT...]
"""

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STARTUP_SECONDS = 30
PROBE_SECONDS = 2
# PostgreSQL's SSLRequest: any PostgreSQL answers it with one byte, S or N,
# before it asks for a password, so it tells a server from a stranger.
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], what: str, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not happen within {seconds} seconds")


def first_reply(host: str, port: int, message: bytes) -> bytes:
    """The first bytes a server at host:port sends back to MESSAGE; none if nothing listens."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS) as sock:
            sock.sendall(message)
            return sock.recv(16)
    except OSError:
        return b""


def postgres_answers(host: str, port: int) -> bool:
    return first_reply(host, port, SSL_REQUEST) in (b"S", b"N")


def redis_answers(host: str, port: int) -> bool:
    """A Redis that wants a password still answers PING, with an error."""
    return first_reply(host, port, b"PING\r\n")[:1] in (b"+", b"-")


def postgres_bindir() -> Path | None:
    """
    The folder holding initdb and pg_ctl: PG_BINDIR if set, else the one on
    PATH, pg_config's, or the newest of Debian's /usr/lib/postgresql/<version>/bin.
    """
    if os.environ.get("PG_BINDIR"):
        candidates = [Path(os.environ["PG_BINDIR"])]
    else:
        candidates = []
        if initdb := shutil.which("initdb"):
            candidates.append(Path(initdb).parent)
        if pg_config := shutil.which("pg_config"):
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidates.append(Path(bindir.stdout.strip()))
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    for candidate in candidates:
        if all(os.access(candidate / program, os.X_OK) for program in ("initdb", "pg_ctl")):
            return candidate
    return None


def _version(bindir: Path) -> list[int]:
    return [int(part) for part in bindir.parent.name.split(".") if part.isdigit()]


class PrivateRedis:
    """
    A redis-server of the suite's own. Persistent, it keeps the counter across
    a restart, as the stack's Redis does; otherwise it saves nothing.
    """

    def __init__(self, *, persistent: bool = True) -> None:
        self.port = free_port()
        self.persistent = persistent
        self.directory = Path(tempfile.mkdtemp(prefix="visits-test-redis-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        saving = ["--appendonly", "yes", "--appendfsync", "always"]
        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            *(saving if self.persistent else ["--appendonly", "no"]),
        ]  # fmt: skip
        # Its own session, so that a Ctrl-C meant for the tests leaves it to them to stop.
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivatePostgres:
    """
    A PostgreSQL cluster of the suite's own in a temporary folder, trusting
    every local connection. The server refuses to run as root, so as root it
    runs as the postgres system user.
    """

    def __init__(self) -> None:
        self.port = free_port()
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError(
                "initdb and pg_ctl were not found: install Debian's postgresql package, "
                "or set PG_BINDIR to the folder that holds them."
            )
        self.bindir = bindir
        self.directory = Path(tempfile.mkdtemp(prefix="visits-test-postgres-"))
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(
            [*self._as_owner, str(self.bindir / program), *arguments],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        """Starts the server, creating the cluster the first time."""
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "--auth=trust", "--username=postgres", "-D", str(self.data))
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def configured_address(host_variable: str, port_variable: str, default: int) -> tuple[str, int]:
    port = os.environ.get(port_variable) or str(default)
    if not port.isdigit():
        sys.exit(f"{port_variable} is {port!r}, not a port number; correct it or unset it.")
    return os.environ.get(host_variable, ""), int(port)


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
        environment.pop("DB_PASS_FILE", None)
        environment.update(
            DB_HOST="127.0.0.1", DB_PORT=str(postgres.port), DB_USER="postgres", DB_PASS=""
        )
    if redis_at:
        redis = PrivateRedis(persistent=False)
        cleanup.callback(redis.remove)
        announce("Redis", redis_at, redis.port)
        redis.start()
        # It has no password, and refuses a client that offers one.
        environment.pop("CACHE_PASS", None)
        environment.pop("CACHE_PASS_FILE", None)
        environment.update(CACHE_HOST="127.0.0.1", CACHE_PORT=str(redis.port))
    return environment


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
