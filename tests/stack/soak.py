"""
The soak test: the real three-container stack (docker/up) under steady load
while faults come in turn, then a reconciliation that fails on any difference.

Every request names itself in its User-Agent, which the page stores, so each
answer can be matched with the row it wrote. The faults, evenly spread over the
run: PostgreSQL killed with SIGKILL and started again, Redis restarted (its AOF
keeps the counter), db's network cut and restored, web redeployed by docker/up,
then recount_accesses and rebuild_visit_counter run inside web.

tests/stack/test_soak.py runs it: briefly in the container suite, for five
minutes with `make soak`.
"""

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.stack.docker_cli import Stack, docker, wait_healthy

# Seconds after which a request counts as hung: well past the page's own limits
# (a 5 s statement, 4 s to notice a silent network) plus waiting for a thread.
REQUEST_TIMEOUT = 15
USER_AGENT = "soak/{}"
CUT_SECONDS = 8  # how long db's network stays cut
# After PostgreSQL is back, a worker thread may still be finding its connection broken.
RECOVERY_SECONDS = 2


@dataclass
class Outcome:
    number: int
    started: float  # seconds since the run began
    elapsed: float
    kind: str  # counted, uncounted, unavailable (503), other (any other status), error
    detail: str = ""


@dataclass
class Fault:
    name: str
    started: float
    ended: float = 0.0
    database_away: bool = False  # 503s are expected while it lasts


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    seconds: float = 0.0


class Load:
    """CLIENTS threads, each sending GET / on a new connection as soon as the last one answered."""

    def __init__(self, port: int, clients: int, origin: float):
        self.port, self.origin = port, origin
        self.outcomes: list[Outcome] = []
        self._numbers = itertools.count(1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return sorted(self.outcomes, key=lambda outcome: outcome.started)

    def _client(self) -> None:
        while not self._stop.is_set():
            self.outcomes.append(self._request(next(self._numbers)))  # list.append is atomic

    def _request(self, number: int) -> Outcome:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT.format(number)}
        try:
            connection.request("GET", "/", headers=headers)
            response = connection.getresponse()
            kind, detail = classify(response.status, response.getheaders(), response.read())
        except (OSError, http.client.HTTPException) as error:
            kind, detail = "error", f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        return Outcome(number, started - self.origin, time.monotonic() - started, kind, detail)


def classify(status: int, headers: list[tuple[str, str]], body: bytes) -> tuple[str, str]:
    if status == 200:
        return ("uncounted" if json.loads(body)["visits"] is None else "counted"), ""
    if status == 503 and any(name.lower() == "retry-after" for name, _ in headers):
        return "unavailable", ""
    return "other", f"{status} {body[:200]!r}"


class Faults:
    """The faults, each a method that returns once the stack has recovered from it."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.network = f"{stack.prefix}-net"

    def schedule(self):
        return [
            ("PostgreSQL killed", self.kill_postgresql, True),
            ("Redis restarted", self.restart_redis, False),
            ("db's network cut", self.cut_database_network, True),
            ("web redeployed", self.redeploy_web, False),
            ("recount_accesses", self.recount, False),
            ("rebuild_visit_counter", self.rebuild, False),
        ]

    def kill_postgresql(self) -> None:
        docker("kill", "--signal", "KILL", self.stack.db)
        # The restart policy may bring it back by itself; start it if not.
        time.sleep(1)
        if docker("inspect", "--format", "{{.State.Running}}", self.stack.db) != "true":
            docker("start", self.stack.db)
        wait_healthy(self.stack.db)

    def restart_redis(self) -> None:
        docker("restart", self.stack.cache)
        wait_healthy(self.stack.cache)

    def cut_database_network(self) -> None:
        docker("network", "disconnect", self.network, self.stack.db)
        time.sleep(CUT_SECONDS)
        docker("network", "connect", "--alias", "db", self.network, self.stack.db)
        wait_until_ready(self.stack)

    def redeploy_web(self) -> None:
        self.stack.up()

    def recount(self) -> None:
        docker("exec", self.stack.web, "python", "manage.py", "recount_accesses")

    def rebuild(self) -> None:
        docker("exec", self.stack.web, "python", "manage.py", "rebuild_visit_counter")


def wait_until_ready(stack: Stack, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while stack.get("/readyz").status != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"web was not ready again within {seconds} s")
        time.sleep(0.5)


def soak(stack: Stack, seconds: float, clients: int) -> Run:
    """Drives the running stack for SECONDS while the faults come, evenly spaced."""
    run = Run()
    origin = time.monotonic()
    load = Load(stack.port, clients, origin)
    load.start()
    try:
        schedule = Faults(stack).schedule()
        gap = seconds / (len(schedule) + 1)
        for index, (name, inject, database_away) in enumerate(schedule, start=1):
            time.sleep(max(0.0, origin + index * gap - time.monotonic()))
            fault = Fault(name, time.monotonic() - origin, database_away=database_away)
            inject()
            fault.ended = time.monotonic() - origin
            run.faults.append(fault)
        time.sleep(max(0.0, origin + seconds - time.monotonic()))
    finally:
        run.outcomes = load.stop()
        run.seconds = time.monotonic() - origin
    return run


@dataclass
class Stored:
    rows: dict[int, int]  # request number -> its row's id
    duplicates: list[int]  # request numbers stored more than once
    counter: int
    counted_up_to: int  # the last rebuild's highest id (0: none in the last ten minutes)


def stored(stack: Stack) -> Stored:
    """The rows the run wrote and the Redis counter, read from the containers."""
    listing = docker(
        "exec", stack.db, "psql", "--username", "postgres", "--dbname", "visits",
        "--tuples-only", "--no-align", "--field-separator", " ", "--command",
        "SELECT id, user_agent FROM visits_access WHERE user_agent LIKE 'soak/%'",
    )  # fmt: skip
    rows: dict[int, int] = {}
    duplicates = []
    for line in listing.splitlines():
        row_id, user_agent = line.split(" ", 1)
        number = int(user_agent.removeprefix("soak/"))
        if number in rows:
            duplicates.append(number)
        rows[number] = int(row_id)
    counter, counted_up_to = (
        int(value or 0)
        for value in redis_get(
            stack, "visits:1:visit-counter", "visits:1:visit-counter-counted-up-to"
        )
    )
    return Stored(rows, duplicates, counter, counted_up_to)


def redis_get(stack: Stack, *keys: str) -> list[str]:
    output = docker(
        "exec", stack.cache, "sh", "-c", 'REDISCLI_AUTH="$CACHE_PASS" redis-cli --raw MGET "$@"',
        "sh", *keys,
    )  # fmt: skip
    return output.split("\n")


def reconcile(run: Run, found: Stored) -> list[str]:
    """Every difference between what clients were answered and what was stored."""
    problems = []
    answered = {outcome.number: outcome for outcome in run.outcomes}
    ok = [o for o in run.outcomes if o.kind in ("counted", "uncounted")]
    lost = [o.number for o in ok if o.number not in found.rows]
    if lost:
        problems.append(f"{len(lost)} answered 200 but stored no row: {lost[:10]}")
    if found.duplicates:
        problems.append(f"{len(found.duplicates)} stored twice: {found.duplicates[:10]}")
    strangers = [number for number in found.rows if number not in answered]
    if strangers:
        problems.append(f"{len(strangers)} rows of requests never sent: {strangers[:10]}")
    expected = expected_counter(run, found)
    if found.counter != expected:
        problems.append(f"the counter is {found.counter}, expected {expected}")
    failures = Counter(
        f"{failure_kind(outcome)} during {fault_at(run, outcome)}"
        for outcome in run.outcomes
        if outcome.kind in ("other", "error")
        or (outcome.kind == "unavailable" and not during_database_fault(run, outcome))
    )
    problems += [f"{count} failed: {failure}" for failure, count in failures.most_common()]
    return problems


def failure_kind(outcome: Outcome) -> str:
    if outcome.kind == "unavailable":
        return "503 with PostgreSQL up"
    if outcome.kind == "error":
        return outcome.detail.split(":", 1)[0]  # the exception's name
    return f"status {outcome.detail.split(' ', 1)[0]}"


def fault_at(run: Run, outcome: Outcome) -> str:
    """The fault the request overlapped, or "no fault"."""
    for fault in run.faults:
        if outcome.started <= fault.ended and outcome.started + outcome.elapsed >= fault.started:
            return fault.name
    return "no fault"


def expected_counter(run: Run, found: Stored) -> int:
    """
    The rows, less those never counted: stored by a request answered "counter
    unavailable" or not answered 200 at all, unless the last rebuild counted
    them (id at most counted_up_to).
    """
    answered = {outcome.number: outcome.kind for outcome in run.outcomes}
    uncounted = sum(
        1
        for number, row_id in found.rows.items()
        if answered.get(number) != "counted" and row_id > found.counted_up_to
    )
    return len(found.rows) - uncounted


def during_database_fault(run: Run, outcome: Outcome) -> bool:
    """Whether the request overlapped a fault that took PostgreSQL away (or its last seconds)."""
    return any(
        fault.database_away
        and outcome.started <= fault.ended + RECOVERY_SECONDS
        and outcome.started + outcome.elapsed >= fault.started
        for fault in run.faults
    )


def summary(run: Run, found: Stored) -> str:
    kinds = dict.fromkeys(("counted", "uncounted", "unavailable", "other", "error"), 0)
    for outcome in run.outcomes:
        kinds[outcome.kind] += 1
    slowest = max((outcome.elapsed for outcome in run.outcomes), default=0.0)
    lines = [
        f"{len(run.outcomes)} requests in {run.seconds:.0f} s "
        f"({len(run.outcomes) / run.seconds:.0f}/s): {kinds['counted']} counted, "
        f"{kinds['uncounted']} answered 'counter unavailable', {kinds['unavailable']} 503, "
        f"{kinds['other']} other statuses, {kinds['error']} errors; slowest {slowest:.2f} s",
        f"stored: {len(found.rows)} rows, counter {found.counter} "
        f"(expected {expected_counter(run, found)}), last rebuild counted up to id "
        f"{found.counted_up_to}",
    ]
    lines += [
        f"  {fault.started:6.1f} s  {fault.name} ({fault.ended - fault.started:.1f} s)"
        for fault in run.faults
    ]
    return "\n".join(lines)
