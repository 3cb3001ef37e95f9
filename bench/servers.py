"""
The benchmark's servers: its own PostgreSQL and Redis, a scratch database and keys on
them, and the web servers it measures.
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis

from devservices.servers import PrivatePostgres, PrivateRedis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MARKER = "scratch database of the visits benchmark"
# The project's variants (bench/implementations.py) share its table and key.
VARIANTS = (
    "visits-gthread",
    "visits-json",
    "visits-unobserved",
    "visits-unpooled",
    "visits-pool-4",
)
ROW_TABLES = {
    "visits": "visits_access",
    **dict.fromkeys(VARIANTS, "visits_access"),
    "ceiling": "visits_access",
    "typical": "typical_access",
    "exercise": "acessos",
}
# The baselines that count with COUNT(*), which slows as their table grows: each
# run starts them on an empty one.
COUNTING_ROWS = ("typical", "exercise")


def children(pid: int) -> list[int]:
    """The processes PID started (gunicorn's workers, PostgreSQL's backends)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


@contextlib.contextmanager
def own_servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    """
    A PostgreSQL asking for a password over TCP with scram-sha-256, and a Redis
    saving nothing, both removed afterwards; os.environ's DB_ and CACHE_
    variables point at them meanwhile.
    """
    postgres = PrivatePostgres(password=secrets.token_urlsafe(16))
    redis = PrivateRedis(persistent=False)
    saved = dict(os.environ)
    try:
        postgres.start()
        redis.start()
        postgres.point(os.environ)
        redis.point(os.environ)
        print(
            f"PostgreSQL (scram-sha-256 over TCP) on port {postgres.port}, "
            f"Redis on port {redis.port}, both the benchmark's own.",
            flush=True,
        )
        yield postgres, redis
    finally:
        os.environ.clear()
        os.environ.update(saved)
        redis.remove()
        postgres.remove()


class Scratch:
    """
    A database created for the run and dropped after it, and Redis keys under
    a prefix of the same name. It refuses to drop a database of that name that
    it did not create (it marks its own with a comment).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.counter_keys = {
            "visits": f"{name}:1:visit-counter",  # the key Django's cache makes
            **dict.fromkeys(VARIANTS, f"{name}:1:visit-counter"),
            "ceiling": f"{name}:ceiling-visits",
            "typical": f"{name}:1:typical-visits",  # typical's key, as its cache makes it
            "exercise": f"{name}:exercise-visitas",
        }
        self.server = {
            "host": os.environ.get("DB_HOST", "127.0.0.1"),
            "port": os.environ.get("DB_PORT", "5432"),
            "user": os.environ.get("DB_USER", "postgres"),
            "password": os.environ.get("DB_PASS", ""),
        }
        self.cache = redis.Redis(
            host=os.environ.get("CACHE_HOST", "127.0.0.1"),
            port=int(os.environ.get("CACHE_PORT", "6379")),
        )
        self.log_dir = Path(tempfile.mkdtemp(prefix="visits-bench-"))
        self._database: psycopg.Connection | None = None

    def __enter__(self) -> "Scratch":
        self._drop_own_leftover()
        with self._maintenance() as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
            connection.execute(f"COMMENT ON DATABASE \"{self.name}\" IS '{MARKER}'")
        self._delete_keys()
        for settings_module in ("visits_project.settings", "bench.baselines.typical.settings"):
            subprocess.run(
                [sys.executable, "-m", "django", "migrate", "--noinput", "--verbosity", "0"],
                cwd=PROJECT_ROOT,
                env={**self.environment("visits", 0), "DJANGO_SETTINGS_MODULE": settings_module},
                check=True,
            )
        # The typical version's cache.incr refuses a key that does not exist.
        self.cache.set(self.counter_keys["typical"], 0)
        self._database = psycopg.connect(**self.server, dbname=self.name, autocommit=True)
        self._database.execute(
            "CREATE TABLE acessos (id SERIAL PRIMARY KEY, data TIMESTAMP DEFAULT NOW())"
        )
        return self

    def __exit__(self, *exc_info) -> None:
        if self._database is not None:
            self._database.close()
        with self._maintenance() as connection:
            connection.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
        self._delete_keys()
        print(f"Dropped the scratch database {self.name}; server logs are in {self.log_dir}")

    def environment(self, implementation: str, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "DB_HOST": self.server["host"],
            "DB_PORT": str(self.server["port"]),
            "DB_USER": self.server["user"],
            "DB_PASS": self.server["password"],
            "DB_NAME": self.name,
            "CACHE_HOST": self.cache.connection_pool.connection_kwargs["host"],
            "CACHE_PORT": str(self.cache.connection_pool.connection_kwargs["port"]),
            "CACHE_DB": "0",
            "CACHE_KEY_PREFIX": self.name,
            "COUNTER_KEY": self.counter_keys[implementation],
            "DJANGO_SECRET_KEY": "benchmark-only",
            "WEB_BIND": f"127.0.0.1:{port}",
            "PORT": str(port),
        }

    def execute(self, sql: str) -> list[tuple]:
        """Runs SQL in the scratch database, in autocommit; the rows it returned."""
        cursor = self._database.execute(sql)
        return cursor.fetchall() if cursor.description else []

    def empty_table(self, implementation: str) -> None:
        """Empties the table of a baseline that counts with COUNT(*) (COUNTING_ROWS)."""
        if implementation in COUNTING_ROWS:
            self._database.execute(f"TRUNCATE {ROW_TABLES[implementation]}")

    def counts(self, implementation: str) -> tuple[int, int]:
        """(rows in the implementation's table, its Redis counter)."""
        table = ROW_TABLES[implementation]
        rows = self._database.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        return rows, int(self.cache.get(self.counter_keys[implementation]) or 0)

    def prefill(self, rows: int, chunk: int = 1_000_000) -> float:
        """Add rows in SQL, a chunk per statement; the triggers keep the count exact."""
        started = time.monotonic()
        for first in range(0, rows, chunk):
            size = min(chunk, rows - first)
            self._database.execute(
                "INSERT INTO visits_access (created_at, client_address, user_agent) "
                "SELECT now() - make_interval(secs => g), '192.0.2.1', 'prefill' "
                "FROM generate_series(1, %s) AS g",
                (size,),
            )
        self._database.execute("VACUUM ANALYZE visits_access")
        return time.monotonic() - started

    def _maintenance(self) -> psycopg.Connection:
        return psycopg.connect(**self.server, dbname="postgres", autocommit=True)

    def _drop_own_leftover(self) -> None:
        with self._maintenance() as connection:
            row = connection.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (self.name,),
            ).fetchone()
            if row is None:
                return
            if row[0] != MARKER:
                sys.exit(
                    f"A database named {self.name} exists that the benchmark did not create; "
                    "it is left alone. Choose another name with --database."
                )
            connection.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')

    def _delete_keys(self) -> None:
        for key in self.cache.scan_iter(f"{self.name}:*"):
            self.cache.delete(key)


class Server:
    """One implementation listening on 127.0.0.1:port, its output in a log file."""

    def __init__(self, name, command, environment, port, log_dir: Path) -> None:
        self.name, self.command, self.environment, self.port = name, command, environment, port
        self.log_path = log_dir / f"{name}-{port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited while starting; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit(f"{self.name} did not listen on port {self.port} within 60 s; see {self.log_path}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class MemorySampler:
    """Peak proportional set size of a process and its children (shared pages counted once)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stops sampling; the peak in MiB."""
        self._done.set()
        self._thread.join()
        return self.peak_kib / 1024

    def _sample(self) -> None:
        while not self._done.is_set():
            pids = [self.pid, *children(self.pid)]
            self.peak_kib = max(self.peak_kib, sum(self._pss_kib(pid) for pid in pids))
            self._done.wait(self.interval)

    @staticmethod
    def _pss_kib(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0
