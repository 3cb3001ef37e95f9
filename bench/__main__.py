"""
The visits benchmark: the app under gunicorn against two baselines, side by side.

It creates a scratch database on the PostgreSQL that DB_HOST names (and drops it
afterwards), uses Redis keys under the same name on CACHE_HOST, then for each
round starts each implementation, drives load at each concurrency level, and
checks after every run that the rows added, the counter's growth and the
successful responses are equal. It prints medians over the rounds and the
ratios the targets are stated in.

Usage: python -m bench [--rounds 3] [--duration 10] [--rows 10000000] [--smoke]
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import plot
from bench.scratch import MemorySampler, Scratch, Server, free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ["visits", "ceiling", "exercise"]
DESCRIPTIONS = {
    "visits": "this project: Django under gunicorn (gunicorn.conf.py)",
    "visits-gthread": "the same with gunicorn's plain gthread worker, which slow clients can hold",
    "visits-json": "the same with DJANGO_LOG_FORMAT=json",
    "visits-unobserved": "the same without the metrics middleware (bench/settings_unobserved.py)",
    "ceiling": "framework-free WSGI app, same work, same gunicorn settings",
    "exercise": "the exercise: Flask dev server, connection per request, COUNT(*)",
}

# What each variant of the project changes, by environment.
VARIANT_ENVIRONMENTS = {
    "visits-gthread": {"WEB_WORKER_CLASS": "gthread"},
    "visits-json": {"DJANGO_LOG_FORMAT": "json"},
    "visits-unobserved": {"DJANGO_SETTINGS_MODULE": "bench.settings_unobserved"},
}


@dataclass
class Run:
    implementation: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    ok: int
    rows_added: int
    counter_growth: int
    failed: int
    errors: int
    generator_cpu_share: float

    @property
    def counts_agree(self) -> bool:
        return self.ok == self.rows_added == self.counter_growth and self.failed == 0


@dataclass
class Results:
    date: str
    rounds: int
    duration: float
    runs: list[Run] = field(default_factory=list)
    peak_memory_mib: float = 0.0
    rows: int = 0
    rows_runs: list[Run] = field(default_factory=list)
    stats_ms_fresh: float = 0.0
    stats_ms_full: float = 0.0


def main() -> int:
    arguments = parse_arguments()
    results = Results(
        date=time.strftime("%Y-%m-%d"), rounds=arguments.rounds, duration=arguments.duration
    )
    with Scratch(arguments.database) as scratch:
        for round_number in range(1, arguments.rounds + 1):
            for implementation in arguments.implementations:
                measure(scratch, implementation, arguments, results, round_number)
        report(results, arguments)
        if arguments.rows:
            results.stats_ms_fresh = stats_latency(scratch, arguments)
            print(f"\nFilling the access table with {arguments.rows:,} rows...", flush=True)
            seconds = scratch.prefill(arguments.rows)
            print(f"  done in {seconds:.0f} s")
            results.rows = arguments.rows
            for _ in range(arguments.rounds):
                measure_at_size(scratch, arguments, results)
            results.stats_ms_full = stats_latency(scratch, arguments)
            report_size(results, arguments)
    if arguments.output:
        write_output(results, arguments.output)
    disagreements = [run for run in results.runs + results.rows_runs if not run.counts_agree]
    if disagreements:
        print(f"\nCOUNTS DISAGREE in {len(disagreements)} run(s): see the table above.")
        return 1
    print("\nCounts agree in every run: rows added = counter growth = successful responses.")
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", default="1,16,64", help="client counts, comma-separated")
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--rows", type=int, default=0, help="then measure with N rows")
    parser.add_argument("--rows-concurrency", type=int, default=16)
    parser.add_argument("--database", default="visits_bench", help="scratch database name")
    parser.add_argument("--output", type=Path, help="write results.json and plot.svg here")
    parser.add_argument(
        "--web-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for both gunicorn servers, e.g. WEB_CONCURRENCY=4",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it all work?")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.rounds, arguments.duration, arguments.warmup = 1, 1.0, 0.2
    arguments.concurrency = [int(level) for level in arguments.concurrency.split(",")]
    arguments.implementations = arguments.implementations.split(",")
    arguments.web_env = dict(item.split("=", 1) for item in arguments.web_env)
    return arguments


def start(scratch: Scratch, implementation: str, web_env: dict[str, str]) -> Server:
    port = free_port()
    environment = scratch.environment(implementation, port)
    if implementation == "exercise":
        command = [sys.executable, "-m", "bench.baselines.exercise"]
    else:
        environment.update(web_env)
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
        environment.update(VARIANT_ENVIRONMENTS.get(implementation, {}))
        if implementation == "ceiling":
            command.append("bench.baselines.ceiling:application")
    server = Server(implementation, command, environment, port, scratch.log_dir)
    server.start()
    return server


def measure(scratch, implementation, arguments, results, round_number) -> None:
    server = start(scratch, implementation, arguments.web_env)
    try:
        for connections in arguments.concurrency:
            sampler = MemorySampler(server.pid) if implementation == "visits" else None
            run = load_run(scratch, server, implementation, connections, arguments)
            if sampler:
                results.peak_memory_mib = max(results.peak_memory_mib, sampler.stop())
            results.runs.append(run)
            print(
                f"round {round_number} {implementation:>8} c={connections:<3} "
                f"{run.requests_per_second:8.0f} req/s  p50 {run.p50_ms:7.2f} ms  "
                f"p99 {run.p99_ms:7.2f} ms  counts {'agree' if run.counts_agree else 'DIFFER'}",
                flush=True,
            )
    finally:
        server.stop()


def measure_at_size(scratch, arguments, results) -> None:
    server = start(scratch, "visits", arguments.web_env)
    try:
        run = load_run(scratch, server, "visits", arguments.rows_concurrency, arguments)
        results.rows_runs.append(run)
        print(
            f"{arguments.rows:,} rows, c={arguments.rows_concurrency}: "
            f"{run.requests_per_second:.0f} req/s, p50 {run.p50_ms:.2f} ms, "
            f"counts {'agree' if run.counts_agree else 'DIFFER'}",
            flush=True,
        )
    finally:
        server.stop()


def stats_latency(scratch, arguments, requests: int = 20) -> float:
    """Median milliseconds of GET /stats.json, one request at a time."""
    server = start(scratch, "visits", arguments.web_env)
    try:
        timings = []
        for _ in range(requests):
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            connection.request("GET", "/stats.json")
            assert connection.getresponse().read()
            connection.close()
            timings.append((time.monotonic() - started) * 1000)
        return statistics.median(timings)
    finally:
        server.stop()


def load_run(scratch, server, implementation, connections, arguments) -> Run:
    rows_before, counter_before = scratch.counts(implementation)
    command = [sys.executable, "-m", "bench.load", "--port", str(server.port)]
    command += ["--connections", str(connections), "--duration", str(arguments.duration)]
    command += ["--warmup", str(arguments.warmup)]
    output = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    load = json.loads(output)
    rows_after, counter_after = scratch.counts(implementation)
    return Run(
        implementation=implementation,
        connections=connections,
        requests_per_second=load["requests_per_second"],
        p50_ms=load["p50_ms"],
        p99_ms=load["p99_ms"],
        ok=load["ok"],
        rows_added=rows_after - rows_before,
        counter_growth=counter_after - counter_before,
        failed=load["failed"],
        errors=load["errors"],
        generator_cpu_share=load["generator_cpu_share"],
    )


def median_of(runs: list[Run], implementation: str, connections: int, metric: str) -> float:
    values = [
        getattr(run, metric)
        for run in runs
        if run.implementation == implementation and run.connections == connections
    ]
    return statistics.median(values) if values else float("nan")


def report(results: Results, arguments) -> None:
    print(f"\nMedians of {arguments.rounds} round(s) of {arguments.duration:g} s per run:")
    print(f"{'implementation':<10} {'clients':>7} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for implementation in arguments.implementations:
        for connections in arguments.concurrency:
            rps, p50, p99 = (
                median_of(results.runs, implementation, connections, metric)
                for metric in ("requests_per_second", "p50_ms", "p99_ms")
            )
            print(f"{implementation:<10} {connections:>7} {rps:>9.0f} {p50:>9.2f} {p99:>9.2f}")
    for implementation in arguments.implementations:
        print(f"  {implementation}: {DESCRIPTIONS[implementation]}")
    if {"visits", "exercise", "ceiling"} <= set(arguments.implementations):
        for connections in arguments.concurrency:
            ours = median_of(results.runs, "visits", connections, "requests_per_second")
            exercise = median_of(results.runs, "exercise", connections, "requests_per_second")
            ceiling = median_of(results.runs, "ceiling", connections, "requests_per_second")
            print(
                f"Throughput at {connections} clients: {ours / exercise:.1f}x the exercise, "
                f"{ours / ceiling:.2f}x the framework-free ceiling"
            )
    if {"visits", "visits-gthread"} <= set(arguments.implementations):
        for connections in arguments.concurrency:
            ours = median_of(results.runs, "visits", connections, "requests_per_second")
            plain = median_of(results.runs, "visits-gthread", connections, "requests_per_second")
            print(
                f"Reading requests in the event loop at {connections} clients: "
                f"{ours / plain - 1:+.1%} throughput against plain gthread"
            )
    for variant in ("visits", "visits-json"):
        if {variant, "visits-unobserved"} <= set(arguments.implementations):
            for connections in arguments.concurrency:
                observed = median_of(results.runs, variant, connections, "requests_per_second")
                bare = median_of(
                    results.runs, "visits-unobserved", connections, "requests_per_second"
                )
                print(
                    f"Metrics{' and JSON logs' if variant == 'visits-json' else ''} at "
                    f"{connections} clients: {observed / bare - 1:+.1%} throughput against "
                    "none"
                )
    if "visits" in arguments.implementations:
        print(
            f"Peak memory of gunicorn (master and workers, proportional set size): "
            f"{results.peak_memory_mib:.0f} MiB"
        )
    share = max(run.generator_cpu_share for run in results.runs)
    print(f"The load generator used at most {share:.0%} of one core.")


def report_size(results: Results, arguments) -> None:
    connections = arguments.rows_concurrency
    empty = median_of(results.runs, "visits", connections, "p50_ms")
    full = median_of(results.rows_runs, "visits", connections, "p50_ms")
    print(
        f"p50 latency at {connections} clients: {empty:.2f} ms on a fresh table, "
        f"{full:.2f} ms with {arguments.rows:,} rows: {full / empty:.2f}x"
    )
    print(
        f"GET /stats.json (median of 20): {results.stats_ms_fresh:.1f} ms on a fresh table, "
        f"{results.stats_ms_full:.1f} ms with {arguments.rows:,} rows"
    )


def write_output(results: Results, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(asdict(results), indent=2) + "\n")
    (directory / "plot.svg").write_text(plot.render(results.runs))
    print(f"Wrote {directory / 'results.json'} and {directory / 'plot.svg'}")


if __name__ == "__main__":
    sys.exit(main())
