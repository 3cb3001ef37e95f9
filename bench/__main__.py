"""
The visits benchmark: the app under gunicorn against three baselines, side by side.

It starts a PostgreSQL of its own that asks for a password over TCP with
scram-sha-256, as the postgres image does, and a Redis of its own, and removes
both at the end. First a sweep measures every baseline under each of its server
settings and keeps the fastest; then, for each round, it starts each
implementation in turn, drives it with wrk at each concurrency level, and checks
after every run that the requests sent, the rows added and the counter's growth
are the same number. It prints medians over the rounds and the ratios the
targets are stated in.

Usage: python -m bench [--rounds 3] [--duration 10] [--rows 10000000] [--smoke]
"""

import argparse
import http.client
import json
import signal
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import load, plot
from bench.implementations import COMPARED, DESCRIPTIONS, Setting, settings_to_sweep, start
from bench.servers import MemorySampler, Scratch, Server, own_servers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# How long the server may take to finish the requests wrk left in flight.
SETTLE_SECONDS = 10


@dataclass
class Run:
    implementation: str
    setting: str
    connections: int
    loads: int  # runs of wrk: the warm-up's and the measured one
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    sent: int
    ok: int
    rows_added: int
    counter_growth: int
    failed: int
    errors: int
    generator_cpu_share: float

    @property
    def counts_agree(self) -> bool:
        """
        Every request sent is one row and one visit, every response read is a
        success, and only requests in flight at the end of each run of wrk (one
        per connection at most) went unread.
        """
        return (
            self.sent == self.rows_added == self.counter_growth
            and self.failed == self.errors == 0
            and 0 <= self.sent - self.ok <= self.connections * self.loads
        )


@dataclass
class Results:
    date: str
    rounds: int
    duration: float
    sweep: list[Run] = field(default_factory=list)
    chosen: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    peak_memory_mib: float = 0.0
    rows: int = 0
    rows_runs: list[Run] = field(default_factory=list)
    stats_ms_fresh: float = 0.0
    stats_ms_full: float = 0.0


def main() -> int:
    arguments = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that the servers started are removed.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    results = Results(
        date=time.strftime("%Y-%m-%d"), rounds=arguments.rounds, duration=arguments.duration
    )
    with own_servers(), Scratch(arguments.database) as scratch:
        settings = choose_settings(scratch, arguments, results)
        for round_number in range(1, arguments.rounds + 1):
            for implementation in arguments.implementations:
                setting = settings.get(implementation)
                measure(scratch, implementation, setting, arguments, results, round_number)
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
    disagreements = [
        run for run in results.sweep + results.runs + results.rows_runs if not run.counts_agree
    ]
    if disagreements:
        print(f"\nCOUNTS DISAGREE in {len(disagreements)} run(s): see the tables above.")
        return 1
    print(
        "\nCounts agree in every run: requests sent = rows added = counter growth, "
        "and every response read was a success."
    )
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds first")
    parser.add_argument("--concurrency", default="1,16,64", help="client counts, comma-separated")
    parser.add_argument("--implementations", default=",".join(COMPARED))
    parser.add_argument(
        "--sweep-duration",
        type=int,
        default=5,
        help="seconds per setting in the sweep; 0 skips it (first setting of each)",
    )
    parser.add_argument("--sweep-concurrency", type=int, default=16, help="clients in the sweep")
    parser.add_argument("--rows", type=int, default=0, help="then measure with N rows")
    parser.add_argument("--rows-concurrency", type=int, default=16)
    parser.add_argument("--database", default="visits_bench", help="scratch database name")
    parser.add_argument("--output", type=Path, help="write results.json and plot.svg here")
    parser.add_argument(
        "--web-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the project's gunicorn, e.g. WEB_CONCURRENCY=4",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it all work?")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.rounds, arguments.duration, arguments.warmup = 1, 1, 0
        arguments.sweep_duration = 1
    arguments.concurrency = [int(level) for level in arguments.concurrency.split(",")]
    arguments.implementations = arguments.implementations.split(",")
    arguments.web_env = dict(item.split("=", 1) for item in arguments.web_env)
    return arguments


def choose_settings(scratch: Scratch, arguments, results: Results) -> dict[str, Setting]:
    """
    The sweep: each baseline under each of its settings at --sweep-concurrency
    clients, keeping the fastest. The project is measured too, for the record,
    and then runs as shipped.
    """
    chosen: dict[str, Setting] = {}
    smoke_settings = 2
    print(
        f"Sweep: {arguments.sweep_concurrency} clients, {arguments.sweep_duration} s per setting",
        flush=True,
    )
    for implementation in arguments.implementations:
        candidates = settings_to_sweep(implementation)
        if arguments.smoke:
            candidates = candidates[:smoke_settings]
        if not arguments.sweep_duration:
            chosen[implementation] = candidates[0]
            continue
        runs = []
        for setting in candidates:
            server = start(scratch, implementation, setting, arguments.web_env)
            try:
                run = load_run(
                    scratch, server, implementation, str(setting), arguments.sweep_concurrency,
                    arguments.sweep_duration, arguments.warmup,
                )  # fmt: skip
            finally:
                server.stop()
            runs.append(run)
            print_run("sweep", run)
        results.sweep += runs
        best = max(runs, key=lambda run: run.requests_per_second)
        chosen[implementation] = candidates[runs.index(best)]
        print(f"  {implementation}: fastest under {best.setting}", flush=True)
    for implementation in arguments.implementations:
        if implementation.startswith("visits"):
            chosen.pop(implementation, None)
    results.chosen = {name: str(setting) for name, setting in chosen.items()}
    return chosen


def measure(scratch, implementation, setting, arguments, results, round_number) -> None:
    server = start(scratch, implementation, setting, arguments.web_env)
    label = str(setting) if setting else "as shipped"
    try:
        for connections in arguments.concurrency:
            sampler = MemorySampler(server.pid) if implementation == "visits" else None
            run = load_run(
                scratch, server, implementation, label, connections,
                arguments.duration, arguments.warmup,
            )  # fmt: skip
            if sampler:
                results.peak_memory_mib = max(results.peak_memory_mib, sampler.stop())
            results.runs.append(run)
            print_run(f"round {round_number}", run)
    finally:
        server.stop()


def print_run(label: str, run: Run) -> None:
    print(
        f"{label} {run.implementation:>8} c={run.connections:<3} "
        f"{run.requests_per_second:8.0f} req/s  p50 {run.p50_ms:7.2f} ms  "
        f"p99 {run.p99_ms:7.2f} ms  counts {'agree' if run.counts_agree else 'DIFFER'}"
        + (f"  ({run.setting})" if label == "sweep" else ""),
        flush=True,
    )


def measure_at_size(scratch, arguments, results) -> None:
    server = start(scratch, "visits", None, arguments.web_env)
    try:
        run = load_run(
            scratch, server, "visits", "as shipped", arguments.rows_concurrency,
            arguments.duration, arguments.warmup,
        )  # fmt: skip
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
    server = start(scratch, "visits", None, arguments.web_env)
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


def load_run(
    scratch: Scratch,
    server: Server,
    implementation: str,
    setting: str,
    connections: int,
    duration: int,
    warmup: int,
) -> Run:
    """
    wrk for WARMUP seconds, unmeasured, then for DURATION; then, once the server
    has carried out what was left in flight, the rows and the counter against
    the requests sent in both.
    """
    scratch.empty_table(implementation)
    rows_before, counter_before = scratch.counts(implementation)
    sent = 0
    if warmup:
        warm = load.drive(server.port, connections, warmup)
        sent += warm.sent
    measured = load.drive(server.port, connections, duration)
    sent += measured.sent
    rows_after, counter_after = scratch.counts(implementation)
    deadline = time.monotonic() + SETTLE_SECONDS
    while rows_after - rows_before < sent and time.monotonic() < deadline:
        time.sleep(0.05)
        rows_after, counter_after = scratch.counts(implementation)
    # Another moment, so that a visit counted after its row shows as well.
    time.sleep(0.1)
    rows_after, counter_after = scratch.counts(implementation)
    return Run(
        implementation=implementation,
        setting=setting,
        connections=connections,
        loads=2 if warmup else 1,
        requests_per_second=measured.requests_per_second,
        p50_ms=measured.p50_ms,
        p99_ms=measured.p99_ms,
        sent=sent,
        ok=(warm.ok if warmup else 0) + measured.ok,
        rows_added=rows_after - rows_before,
        counter_growth=counter_after - counter_before,
        failed=(warm.failed if warmup else 0) + measured.failed,
        errors=measured.socket_errors + measured.timeouts,
        generator_cpu_share=measured.generator_cpu_seconds / duration,
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
        setting = results.chosen.get(implementation, "as shipped")
        print(f"  {implementation}: {DESCRIPTIONS[implementation]}; {setting}")
    if "visits" in arguments.implementations:
        for connections in arguments.concurrency:
            ours = median_of(results.runs, "visits", connections, "requests_per_second")
            ratios = [
                f"{ours / theirs:.2f}x {baseline}"
                for baseline in ("ceiling", "typical", "exercise")
                if baseline in arguments.implementations
                and (
                    theirs := median_of(results.runs, baseline, connections, "requests_per_second")
                )
            ]
            if ratios:
                print(f"visits' throughput at {connections} clients: {', '.join(ratios)}")
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
    share = max((run.generator_cpu_share for run in results.sweep + results.runs), default=0)
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
