"""
Where a page view's CPU goes, by layer: the service under wrk's load, its gunicorn
workers sampled by py-spy, and every process's CPU time read from /proc.

py-spy samples only the threads holding the GIL (--gil), so a sample is Python at
work, never a thread waiting on a socket. Each sample goes to the layer of the
innermost frame that names one (LAYERS); the workers' CPU time, measured over
the same seconds, is shared out in those proportions and divided by the rows
added meanwhile. PostgreSQL's, Redis' and wrk's CPU time come from /proc alone.
Then a second recording, all threads, becomes the flame graph.

Usage: python -m bench.profile [--seconds 10] [--clients 16] [--implementation visits]
                               [--output docs/benchmark]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import load
from bench.implementations import DESCRIPTIONS, GUNICORN_SETTINGS, start
from bench.servers import Scratch, children, own_servers

# (layer, path prefixes of its frames), innermost first: a sample belongs to the
# layer of the innermost frame matching one. Frames of the standard library
# (logging, threading, socket) name none, and go with their caller's layer.
MIDDLEWARE_PATHS = (
    "django/middleware/",
    "django/contrib/sessions/middleware.py",
    "django/contrib/auth/middleware.py",
    "django/contrib/messages/middleware.py",
    "csp/middleware.py",
    "django_permissions_policy/",
    "whitenoise/middleware.py",
    "axes/middleware.py",
    "visits/middleware.py",
    "visits/metrics.py",
)
GUNICORN = "gunicorn (accepting, parsing, writing, access log)"
HANDLER = "Django's handler (request, middleware chain, signals)"
# The libraries first: time in them is theirs, whoever called them. Then the code
# that owns what it calls (Django's URL, HTTP and translation helpers included):
# a middleware, the view, Django's handler (the middleware chain's glue), gunicorn.
LAYERS = [
    ("psycopg", ("psycopg/", "psycopg_pool/")),
    ("redis-py and django-redis", ("redis/", "django_redis/")),
    ("prometheus-client (metrics)", ("prometheus_client/",)),
    ("Django's database connection", ("django/db/", "visits/postgresql/")),
    ("middleware", MIDDLEWARE_PATHS),
    ("the view (visits/, its decorators)", ("visits/", "django/views/", "bench/baselines/")),
    (HANDLER, ("django/core/handlers/", "django/utils/deprecation.py")),
    (GUNICORN, ("gunicorn/", "serving/request_buffering.py")),
]
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?):\d+\)$")


def main() -> int:
    arguments = parse_arguments()
    if arguments.output:
        arguments.output.mkdir(parents=True, exist_ok=True)
    with own_servers() as (postgres, redis), Scratch(arguments.database) as scratch:
        setting = None if arguments.implementation.startswith("visits") else GUNICORN_SETTINGS[0]
        server = start(scratch, arguments.implementation, setting, {})
        try:
            load.drive(server.port, arguments.clients, 2)  # warm-up
            wrk = Background(server.port, arguments.clients, 2 * arguments.seconds + 2)
            time.sleep(1)
            postmaster = postgres.postmaster_pid()
            processes = {
                "gunicorn": lambda: [server.pid, *children(server.pid)],
                "PostgreSQL (server)": lambda: [postmaster, *children(postmaster)],
                "Redis (server)": lambda: [redis.process.pid],
            }
            before_rows = scratch.counts(arguments.implementation)[0]
            before = {name: cpu_seconds(pids()) for name, pids in processes.items()}
            samples = record(server.pid, arguments.seconds, arguments.rate, gil_only=True)
            if arguments.output:
                stacks = arguments.output / f"stacks-{arguments.implementation}.txt"
                stacks.write_text("".join(f"{stack} {n}\n" for stack, n in samples.items()))
            after = {name: cpu_seconds(pids()) for name, pids in processes.items()}
            rows = scratch.counts(arguments.implementation)[0] - before_rows
            flame_graph = arguments.output / "flamegraph.svg" if arguments.output else None
            if flame_graph:
                record(server.pid, arguments.seconds, arguments.rate, flame_graph=flame_graph)
            generator = wrk.result()
        finally:
            server.stop()
    cpu = {name: after[name] - before[name] for name in processes}
    layers = by_layer(samples)
    report = {
        "implementation": arguments.implementation,
        "clients": arguments.clients,
        "seconds": arguments.seconds,
        "page_views": rows,
        "page_views_per_second": rows / arguments.seconds,
        "microseconds_per_page_view": {
            **{layer: share * cpu["gunicorn"] / rows * 1e6 for layer, share in layers.items()},
            "PostgreSQL (server)": cpu["PostgreSQL (server)"] / rows * 1e6,
            "Redis (server)": cpu["Redis (server)"] / rows * 1e6,
            "wrk (load generator)": generator.generator_cpu_seconds / generator.sent * 1e6,
        },
        "samples": sum(samples.values()),
    }
    print_report(report, arguments)
    if arguments.output:
        path = arguments.output / f"profile-{arguments.implementation}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"Wrote {path}" + (f" and {flame_graph}" if flame_graph else ""))
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=10, help="seconds of each recording")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--implementation", default="visits", choices=sorted(DESCRIPTIONS))
    parser.add_argument("--database", default="visits_profile", help="scratch database name")
    parser.add_argument("--output", type=Path, help="write the flame graph and figures here")
    parser.add_argument("--rate", type=int, default=250, help="py-spy's samples per second")
    return parser.parse_args()


class Background:
    """wrk in a thread of its own, so that the profile is taken under its load."""

    def __init__(self, port: int, clients: int, seconds: int) -> None:
        self._result: load.Load | None = None
        self._thread = threading.Thread(target=self._drive, args=(port, clients, seconds))
        self._thread.start()

    def _drive(self, port: int, clients: int, seconds: int) -> None:
        self._result = load.drive(port, clients, seconds)

    def result(self) -> load.Load:
        self._thread.join()
        assert self._result is not None, "wrk failed; see the error above"
        return self._result


def record(
    pid: int, seconds: int, rate: int, *, gil_only: bool = False, flame_graph: Path | None = None
) -> Counter:
    """
    py-spy on gunicorn and its workers: the samples of each stack (root first);
    or, given FLAME_GRAPH, that SVG written instead.
    """
    with tempfile.TemporaryDirectory(prefix="visits-profile-") as folder:
        output = flame_graph or Path(folder) / "stacks.txt"
        command = [
            str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
            "--subprocesses", "--nonblocking", "--rate", str(rate),
            "--duration", str(seconds), "--output", str(output),
            "--format", "flamegraph" if flame_graph else "raw",
        ]  # fmt: skip
        if gil_only:
            command.append("--gil")
        subprocess.run(command, check=True, capture_output=True)
        if flame_graph:
            return Counter()
        stacks: Counter = Counter()
        for line in output.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            stacks[stack] += int(count)
        return stacks


def layer_of(stack: str) -> str:
    """The layer of the innermost frame of STACK that names one."""
    for frame in reversed(stack.split(";")):
        match = FRAME.match(frame)
        if not match:
            continue
        path = match["path"]
        for layer, prefixes in LAYERS:
            if path.startswith(prefixes):
                if layer == "middleware":
                    return f"middleware: {match['function'].split('.')[0]}"
                return layer
    # What names no layer runs in gunicorn's worker: its thread pool and event loop.
    return GUNICORN


def by_layer(samples: Counter) -> dict[str, float]:
    """Each layer's share of the samples."""
    total = sum(samples.values())
    shares: Counter = Counter()
    for stack, count in samples.items():
        shares[layer_of(stack)] += count
    return {layer: count / total for layer, count in shares.most_common()}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of PIDS, from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def print_report(report: dict, arguments) -> None:
    print(
        f"{report['implementation']} at {report['clients']} clients: "
        f"{report['page_views_per_second']:.0f} page views/s while profiled, "
        f"{report['samples']} samples"
    )
    print(f"{'CPU per page view':<58} {'µs':>7}")
    total = 0.0
    for layer, microseconds in report["microseconds_per_page_view"].items():
        total += microseconds
        print(f"  {layer:<56} {microseconds:7.0f}")
    print(f"  {'all of it':<56} {total:7.0f}")


if __name__ == "__main__":
    sys.exit(main())
