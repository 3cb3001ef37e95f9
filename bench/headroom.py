"""
Measures how much each tier of the visits service takes on this machine, for
sizing it beyond one machine: web replicas scale out, while PostgreSQL and Redis
each have one primary, whose rate is then the ceiling of the whole.

  PostgreSQL  rows/s: pgbench running bench/headroom_insert.sql, the page's INSERT
  Redis       INCR/s: redis-benchmark -t incr against an AOF redis-server
  web         pages/s of one replica: wrk on GET / against gunicorn.conf.py as shipped

Each is measured --rounds times, the three interleaved, on this one machine. It
creates, and removes on exit (Ctrl-C included), a scratch database (bench.servers,
on DB_HOST), a redis-server of its own on a free port in a temporary folder, which
the web replica uses too, and the replica's gunicorn; it touches nothing else.

Usage: python -m bench.headroom [--rounds 3] [--duration 10] [--clients 16]
                                [--requests 200000] [--database visits_headroom]
"""

import argparse
import contextlib
import csv
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg

from bench.servers import PROJECT_ROOT, Scratch, Server
from devservices.servers import free_port

INSERT_SCRIPT = PROJECT_ROOT / "bench" / "headroom_insert.sql"
TOOLS = ["pgbench", "redis-server", "redis-benchmark", "wrk", "setsid"]
PACKAGES = "postgresql-client redis-server redis-tools wrk util-linux"  # Debian's, for the TOOLS
# Unset so that the replica runs with gunicorn.conf.py's and the settings' defaults.
TUNING = ["WEB_CONCURRENCY", "WEB_THREADS", "WEB_WORKER_CLASS", "WEB_KEEPALIVE", "DJANGO_DEBUG"]
# A session of their own keeps a Ctrl-C at the terminal from reaching the servers, which
# are then stopped in order: Scratch still needs the redis-server to delete its keys.
DETACHED = ["setsid"]
MILLISECONDS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
ROWS = [  # (figure, label, decimals) of the table, in order
    ("pg_rows", "PostgreSQL primary, rows/s", 0),
    ("pg_mean", "  latency, mean ms", 2),
    ("redis_incr", "Redis primary, INCR/s", 0),
    ("redis_p50", "  latency, p50 ms", 3),
    ("web_pages", "one web replica, pages/s", 0),
    ("web_p50", "  latency, p50 ms", 2),
    ("web_p99", "  latency, p99 ms", 2),
]
Figures = dict[str, float]
Rounds = dict[str, list[float]]


def main() -> None:
    arguments = parse_arguments()
    if missing := [tool for tool in TOOLS if shutil.which(tool) is None]:
        sys.exit(f"Missing {' '.join(missing)}; on Debian: apt-get install {PACKAGES}")
    load_before = " ".join(f"{load:.2f}" for load in os.getloadavg())
    # Python's default on SIGTERM skips cleanup; an exit unwinds like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cache_port = free_port()
    # Scratch reads these, so its keys and the replica's cache go to our own redis-server.
    os.environ.update(CACHE_HOST="127.0.0.1", CACHE_PORT=str(cache_port))
    scratch = Scratch(arguments.database)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(remove, scratch.log_dir)
        cleanup.enter_context(running(redis_server(scratch, cache_port)))
        cleanup.enter_context(scratch)
        web = cleanup.enter_context(running(web_replica(scratch)))
        rounds = measure(scratch, web.port, arguments)
        server_versions = versions(scratch)
    report(rounds)
    print(
        f"{arguments.clients} clients each; {arguments.duration} s per pgbench and wrk run, "
        f"{arguments.requests} requests per redis-benchmark run.\n{server_versions}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\nMachine: {os.cpu_count()} "
        f"cores, load average before the run {load_before}; every tool ran on it."
    )


def measure(scratch: Scratch, web_port: int, arguments: argparse.Namespace) -> Rounds:
    """Each figure's value in every round, the three tiers interleaved."""
    print("Warming the web replica up (2 s, not counted)", file=sys.stderr)
    measure_web(web_port, clients=arguments.clients, seconds=2)
    rounds: Rounds = defaultdict(list)
    for number in range(1, arguments.rounds + 1):
        print(f"Round {number} of {arguments.rounds}", file=sys.stderr)
        figures = measure_postgres(scratch, arguments) | measure_redis(scratch, arguments)
        figures |= measure_web(web_port, clients=arguments.clients, seconds=arguments.duration)
        for figure, value in figures.items():
            rounds[figure].append(value)
    return rounds


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.headroom", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three")
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench, wrk")
    parser.add_argument("--clients", type=int, default=16, help="for all three tools")
    parser.add_argument("--requests", type=int, default=200_000, help="per redis-benchmark")
    parser.add_argument("--database", default="visits_headroom", help="scratch database")
    arguments = parser.parse_args()
    if min(arguments.rounds, arguments.duration, arguments.clients, arguments.requests) < 1:
        parser.error("--rounds, --duration, --clients and --requests must be at least 1")
    # Scratch puts the name into SQL between double quotes.
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", arguments.database):
        parser.error("--database must be a plain lower-case name, such as visits_headroom")
    return arguments


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    # Scratch has just named this folder for its logs; say that it is gone.
    print(f"Removed {folder}: the redis-server's data and the servers' logs")


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        if server.process is not None:  # stop() also reaps one that exited while starting
            server.stop()


def redis_server(scratch: Scratch, port: int) -> Server:
    # As the cache container runs it: append-only file, fsync every second, no snapshots.
    command = [*DETACHED, "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(scratch.log_dir), "--appendonly", "yes", "--save", ""]
    return Server("redis-server", command, dict(os.environ), port, scratch.log_dir)


def web_replica(scratch: Scratch) -> Server:
    port = free_port()
    environment = scratch.environment("visits", port)
    for name in TUNING:
        environment.pop(name, None)
    command = [*DETACHED, sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    return Server("gunicorn", command, environment, port, scratch.log_dir)


def run(command: list[str], environment: dict[str, str] | None = None) -> str:
    """Prints the command, runs it and returns its output; a failure ends the run."""
    print(f"+ {shlex.join(command)}", file=sys.stderr, flush=True)
    result = subprocess.run(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed (exit status {result.returncode}):\n{result.stdout}")
    return result.stdout


def captured(pattern: str, output: str) -> str:
    """The first group of pattern's first match in a tool's output."""
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        sys.exit(f"No {pattern!r} in the tool's output:\n{output}")
    return match.group(1)


def measure_postgres(scratch: Scratch, arguments: argparse.Namespace) -> Figures:
    server = scratch.server
    command = ["pgbench", "-h", server["host"], "-p", server["port"], "-U", server["user"]]
    command += ["-n", "-c", str(arguments.clients), "-j", str(min(2, arguments.clients))]
    command += ["-T", str(arguments.duration), "-f", str(INSERT_SCRIPT), scratch.name]
    output = run(command, {**os.environ, "PGPASSWORD": server["password"]})
    # pgbench exits 0 even when some transactions failed.
    if int(captured(r"^number of failed transactions: (\d+)", output)):
        sys.exit(f"pgbench saw failed transactions:\n{output}")
    return {
        "pg_rows": float(captured(r"^tps = ([\d.]+)", output)),
        "pg_mean": float(captured(r"^latency average = ([\d.]+) ms", output)),
    }


def measure_redis(scratch: Scratch, arguments: argparse.Namespace) -> Figures:
    port = scratch.cache.connection_pool.connection_kwargs["port"]  # our redis-server
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "incr"]
    command += ["-c", str(arguments.clients), "-n", str(arguments.requests), "--csv"]
    output = run(command)
    lines = [line for line in output.splitlines() if line.startswith('"')]
    incr = [row for row in csv.DictReader(lines) if row["test"] == "INCR"]
    if not incr:
        sys.exit(f"No INCR line from redis-benchmark:\n{output}")
    return {"redis_incr": float(incr[0]["rps"]), "redis_p50": float(incr[0]["p50_latency_ms"])}


def measure_web(port: int, *, clients: int, seconds: int) -> Figures:
    command = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds}s"]
    output = run([*command, "--latency", f"http://127.0.0.1:{port}/"])
    # wrk counts error responses as requests; pages/s must be pages.
    if "Non-2xx or 3xx responses" in output:
        sys.exit(f"The web replica answered errors:\n{output}")
    return {
        "web_pages": float(captured(r"^Requests/sec:\s+([\d.]+)", output)),
        "web_p50": wrk_milliseconds(captured(r"^\s+50%\s+(\S+)", output)),
        "web_p99": wrk_milliseconds(captured(r"^\s+99%\s+(\S+)", output)),
    }


def wrk_milliseconds(duration: str) -> float:
    """wrk's 812.00us, 9.84ms or 1.02s in milliseconds."""
    value, unit = re.fullmatch(r"([\d.]+)([a-z]+)", duration).groups()
    return float(value) * MILLISECONDS[unit]


def versions(scratch: Scratch) -> str:
    with psycopg.connect(**scratch.server, dbname=scratch.name) as connection:
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    return f"PostgreSQL {postgres}, Redis {scratch.cache.info('server')['redis_version']}"


def report(rounds: Rounds) -> None:
    """A column per round, then the medians; then their ratios."""
    columns = [f"round {number}" for number in range(1, len(rounds["pg_rows"]) + 1)]
    header = f"{'tier, figure':<28}" + "".join(f"{column:>11}" for column in [*columns, "median"])
    print(f"\n{header}\n{'-' * len(header)}")
    for figure, label, decimals in ROWS:
        values = [*rounds[figure], statistics.median(rounds[figure])]
        print(f"{label:<28}" + "".join(f"{value:>11.{decimals}f}" for value in values))
    web, pg, redis = (statistics.median(rounds[f]) for f in ("web_pages", "pg_rows", "redis_incr"))
    print(
        f"\nOne PostgreSQL primary takes the inserts of {pg / web:.1f} such web replicas, "
        f"one Redis\nprimary the increments of {redis / web:.0f} (ratios of the medians)."
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("Interrupted; what it created is removed.", file=sys.stderr)
        sys.exit(130)
