"""
A closed-loop HTTP load generator: C connections, each sending its next GET as
soon as the previous answer arrived, for a fixed time. Unlike wrk, it lets the
requests in flight at the end finish, so every request the servers handled is
one it counted, which the benchmark's exactness check needs.

Usage: python -m bench.load --port 8080 --connections 16 --duration 10 [--warmup 1]
Prints one JSON object.
"""

import argparse
import asyncio
import json
import statistics
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"


class Outcomes:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.errors = 0
        self.latencies: list[float] = []


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    await reader.readexactly(int(headers.get("content-length", "0")))
    keep_alive = version == "HTTP/1.1" and headers.get("connection") != "close"
    return int(status), keep_alive


async def client(port: int, stop_at: float, measure_from: float, outcomes: Outcomes) -> None:
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(REQUEST)
            status, keep_alive = await read_response(reader)
            finished = time.monotonic()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            outcomes.errors += 1
            writer = None
            await asyncio.sleep(0.01)
            continue
        if status == 200:
            outcomes.ok += 1
        else:
            outcomes.failed += 1
        if started >= measure_from:
            outcomes.latencies.append(finished - started)
        if not keep_alive:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def run(port: int, connections: int, duration: float, warmup: float) -> dict:
    outcomes = Outcomes()
    begin = time.monotonic()
    measure_from = begin + warmup
    stop_at = measure_from + duration
    await asyncio.gather(
        *(client(port, stop_at, measure_from, outcomes) for _ in range(connections))
    )
    measured = len(outcomes.latencies)
    quantiles = statistics.quantiles(outcomes.latencies, n=100) if measured > 1 else [0.0] * 99
    cpu = time.process_time()
    return {
        "connections": connections,
        "ok": outcomes.ok,
        "failed": outcomes.failed,
        "errors": outcomes.errors,
        "requests_per_second": measured / duration,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "generator_cpu_share": cpu / (time.monotonic() - begin),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=0.0)
    arguments = parser.parse_args()
    result = asyncio.run(
        run(arguments.port, arguments.connections, arguments.duration, arguments.warmup)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
