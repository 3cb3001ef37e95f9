"""
The load: wrk, a closed-loop HTTP client in C (each connection sends its next GET as
soon as the previous answer arrived), for a fixed time, with bench/load.lua to count
what it sent as well as what it read back. The requests still in flight when wrk's
time is up are carried out by the server, unread: the exactness check compares the
rows and the counter with the requests sent.
"""

import json
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "load.lua"
# Long enough that wrk never gives up on a slow response and sends again: a
# request that it did give up on would still be counted by the server.
TIMEOUT = "30s"


@dataclass(frozen=True)
class Load:
    sent: int
    completed: int  # responses read
    failed: int  # responses with a status of 400 or above
    socket_errors: int
    timeouts: int
    requests_per_second: float  # responses read per second
    p50_ms: float
    p99_ms: float
    generator_cpu_seconds: float

    @property
    def ok(self) -> int:
        return self.completed - self.failed


def drive(port: int, connections: int, seconds: int) -> Load:
    """Runs wrk against 127.0.0.1:PORT with CONNECTIONS connections for SECONDS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        "wrk",
        f"--threads={min(2, connections)}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        f"--timeout={TIMEOUT}",
        f"--script={SCRIPT}",
        f"http://127.0.0.1:{port}/",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(output.strip().splitlines()[-1])
    return Load(
        sent=figures["sent"],
        completed=figures["completed"],
        failed=figures["status_errors"],
        socket_errors=figures["socket_errors"],
        timeouts=figures["timeouts"],
        requests_per_second=figures["completed"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        generator_cpu_seconds=(after.ru_utime + after.ru_stime)
        - (before.ru_utime + before.ru_stime),
    )
