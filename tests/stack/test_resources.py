"""Memory of the three containers while they serve load, within the limits docker/up sets."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.stack.docker_cli import docker, inspect

MIB = 1024 * 1024
LIMITS_MIB = {"db": 192, "cache": 64, "web": 256}
REQUESTS = 3000
IN_FLIGHT = 32
UNITS = {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB}


def memory_in_use(names: list[str]) -> dict[str, int]:
    """Bytes each container uses now, as docker stats reports it."""
    output = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names)
    usage = {}
    for line in output.splitlines():
        name, amount, unit = re.match(r"(\S+) ([\d.]+)(\w+) /", line).groups()
        usage[name] = int(float(amount) * UNITS[unit])
    return usage


def test_containers_have_memory_limits_from_up(stack):
    limits = {
        role: inspect(name)["HostConfig"]["Memory"] // MIB
        for role, name in (("db", stack.db), ("cache", stack.cache), ("web", stack.web))
    }

    assert limits == LIMITS_MIB


def test_three_containers_serve_load_in_under_512_mb_together(stack):
    names = [stack.db, stack.cache, stack.web]
    peaks = dict.fromkeys(names, 0)
    peak_total = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_total
        while not done.is_set():
            usage = memory_in_use(names)
            peak_total = max(peak_total, sum(usage.values()))
            for name, used in usage.items():
                peaks[name] = max(peaks[name], used)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        statuses = list(pool.map(lambda _: stack.get("/").status, range(REQUESTS)))
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()

    print(
        f"\n{REQUESTS} requests, {IN_FLIGHT} in flight, {REQUESTS / elapsed:.0f} requests/s; "
        "peak memory: "
        + ", ".join(f"{name} {used / MIB:.0f} MiB" for name, used in peaks.items())
        + f"; together {peak_total / MIB:.0f} MiB"
    )
    assert statuses == [200] * REQUESTS
    assert peak_total < 512 * MIB
