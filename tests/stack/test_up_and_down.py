"""docker/up and docker/down, and the stack surviving what happens to containers."""

import stat
import threading
import time

from devservices.servers import free_port
from tests.stack.docker_cli import COUNTED, Stack, counts, docker, inspect, labelled, wait_healthy

CACHE_DOWN = (
    "Banco PostgreSQL tem {n} registros. O contador de visitas do Redis está indisponível "
    "no momento, então esta visita foi registrada, mas não contada."
)


def test_up_from_nothing_serves_one_then_two(stack):
    stack.down(volumes=True)

    output = stack.up()

    assert f"+ docker network create --label org.visits.stack={stack.prefix}" in output
    assert f"The visits stack is up: http://127.0.0.1:{stack.port}/" in output
    assert stack.get("/").body == "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas."
    assert stack.get("/").body == "Banco PostgreSQL tem 2 registros. Redis conta 2 visitas."
    assert [stat.S_IMODE(path.stat().st_mode) for path in stack.env_files] == [0o600] * 3


def under_load(stack, action, clients: int = 8) -> tuple[object, list[str]]:
    """Runs action while clients send GET / one after another; (its result, every outcome)."""
    outcomes: list[str] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                reply = stack.get("/")
                outcomes.append(str(reply.status))
            except OSError as error:
                outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        result = action()
    finally:
        done.set()
        for thread in threads:
            thread.join()
    return result, outcomes


def test_up_again_hands_over_to_a_new_web_losing_no_request(stack):
    accesses, visits = counts(stack)
    db_id, holder_id = inspect(stack.db)["Id"], inspect(stack.web_port)["Id"]
    old_web = inspect(stack.web)
    since = engine_time()

    output, outcomes = under_load(stack, stack.up)

    served = outcomes.count("200")
    new_web = inspect(stack.web)
    exit_codes = docker(
        "events", "--since", since, "--until", engine_time(),
        "--filter", f"container={old_web['Id']}", "--filter", "event=die",
        "--format", "{{.Actor.Attributes.exitCode}}",
    )  # fmt: skip
    assert outcomes == ["200"] * len(outcomes)
    assert served > 50
    assert counts(stack) == (accesses + served + 1, visits + served + 1)
    assert f"+ docker stop --time 30 {stack.web}\n" in output
    assert f"+ docker rename {stack.web}-next {stack.web}\n" in output
    assert exit_codes == "0"  # SIGTERM, every request finished: not 137
    assert inspect(stack.db)["Id"] == db_id
    assert inspect(stack.web_port)["Id"] == holder_id
    assert new_web["Id"] != old_web["Id"]
    assert new_web["HostConfig"]["NetworkMode"] == f"container:{holder_id}"
    assert health_port(new_web) != health_port(old_web)


def engine_time() -> str:
    return docker("system", "info", "--format", "{{.SystemTime}}")


def health_port(container: dict) -> str:
    return next(
        v.split("=", 1)[1] for v in container["Config"]["Env"] if v.startswith("WEB_HEALTH_PORT=")
    )


def test_up_whose_new_web_never_becomes_healthy_leaves_the_old_one_serving(stack):
    accesses, visits = counts(stack)
    old_id = inspect(stack.web)["Id"]

    # The health check sends the first allowed host, which Django refuses as a Host
    # header (no "_" in a domain name): the new web never becomes healthy, while it
    # and the old one both answer the clients' 127.0.0.1.
    output, outcomes = under_load(
        stack,
        lambda: stack.script(
            "up",
            expect_success=False,
            DJANGO_ALLOWED_HOSTS="no_such_host,127.0.0.1",
            VISITS_HEALTH_TIMEOUT="15",  # within the image's start period: still "starting"
        ),
    )

    served = outcomes.count("200")
    assert output.splitlines()[-1] == (
        "error: the new web did not become healthy (status: starting), so it was removed, "
        f"and {stack.web} goes on serving the previous version"
    )
    assert f"Last log lines of {stack.web}-next:\n" in output
    assert f"+ docker stop --time 30 {stack.web}-next\n" in output
    assert outcomes == ["200"] * len(outcomes)
    assert counts(stack) == (accesses + served + 1, visits + served + 1)
    assert inspect(stack.web)["Id"] == old_id
    assert inspect(f"{stack.web}-next") is None


def test_up_after_an_interrupted_handover_keeps_the_web_left_serving(stack):
    """Interrupted after the old web was removed, a handover left web-next serving alone."""
    accesses, visits = counts(stack)
    docker("rename", stack.web, f"{stack.web}-next")

    output, outcomes = under_load(stack, stack.up)

    served = outcomes.count("200")
    adopted = f"{stack.web}-next, left by an interrupted docker/up, serves alone: it becomes"
    assert f"{adopted} {stack.web}\n+ docker rename {stack.web}-next {stack.web}\n" in output
    assert f"+ docker stop --time 30 {stack.web}\n" in output
    assert outcomes == ["200"] * len(outcomes)
    assert counts(stack) == (accesses + served + 1, visits + served + 1)
    assert inspect(f"{stack.web}-next") is None


def test_db_and_cache_recreated_on_their_volumes_keep_counting(stack):
    accesses, visits = counts(stack)
    docker("stop", stack.db, stack.cache)
    docker("rm", stack.db, stack.cache)

    stack.up()

    assert counts(stack) == (accesses + 1, visits + 1)


def test_cache_stopped_records_access_then_counting_resumes(stack):
    accesses, visits = counts(stack)

    docker("stop", stack.cache)
    outage = stack.get("/")
    docker("start", stack.cache)
    replies = [stack.get("/")]
    while not COUNTED.fullmatch(replies[-1].body) and len(replies) < 100:
        time.sleep(0.2)
        replies.append(stack.get("/"))

    assert (outage.status, outage.body) == (200, CACHE_DOWN.format(n=accesses + 1))
    assert [reply.status for reply in replies] == [200] * len(replies)
    assert [reply.body for reply in replies[:-1]] == [
        CACHE_DOWN.format(n=accesses + 2 + index) for index in range(len(replies) - 1)
    ]
    assert replies[-1].body == (
        f"Banco PostgreSQL tem {accesses + 1 + len(replies)} registros. "
        f"Redis conta {visits + 1} visitas."
    )


def test_db_restart_answers_503_at_worst_and_recovers_without_restarting_web(stack):
    accesses, visits = counts(stack)
    web_started = inspect(stack.web)["State"]["StartedAt"]
    db_started = inspect(stack.db)["State"]["StartedAt"]
    replies = []
    restarting = threading.Thread(target=docker, args=("restart", stack.db))

    restarting.start()
    while restarting.is_alive():
        replies.append(stack.get("/"))
        time.sleep(0.05)
    restarting.join()
    wait_healthy(stack.db)
    replies.append(stack.get("/"))
    while replies[-1].status != 200 and len(replies) < 1000:
        time.sleep(0.2)
        replies.append(stack.get("/"))

    served = sum(reply.status == 200 for reply in replies)
    assert {reply.status for reply in replies} <= {200, 503}
    assert inspect(stack.db)["State"]["StartedAt"] != db_started
    assert replies[-1].body == (
        f"Banco PostgreSQL tem {accesses + served} registros. "
        f"Redis conta {visits + served} visitas."
    )
    assert inspect(stack.web)["State"]["StartedAt"] == web_started
    assert inspect(stack.web)["RestartCount"] == 0


def test_stop_web_finishes_request_in_flight_within_stop_timeout(stack):
    accesses, visits = counts(stack)
    # Hold the access table so that a request is still in the worker when SIGTERM
    # comes; for less than the page's lock timeout (2 s) after the request starts.
    docker(
        "exec", "--detach", "--user", "postgres", stack.db, "psql", "--dbname", "visits",
        "--command", "BEGIN; LOCK TABLE visits_access IN EXCLUSIVE MODE; "
        "SELECT pg_sleep(2.2); COMMIT;",
    )  # fmt: skip
    time.sleep(1.2)
    replies = []
    request = threading.Thread(target=lambda: replies.append(stack.get("/")))
    request.start()
    time.sleep(0.5)

    started = time.monotonic()
    docker("stop", stack.web)
    stop_seconds = time.monotonic() - started
    request.join(timeout=30)
    state = inspect(stack.web)["State"]
    docker("start", stack.web)
    wait_healthy(stack.web)

    assert [(reply.status, reply.body) for reply in replies] == [
        (200, f"Banco PostgreSQL tem {accesses + 1} registros. Redis conta {visits + 1} visitas.")
    ]
    assert inspect(stack.web)["Config"]["StopTimeout"] == 30
    assert stop_seconds < 30
    assert (state["ExitCode"], state["OOMKilled"]) == (0, False)


def test_only_web_port_publishes_a_port_on_loopback_for_web_in_its_namespace(stack):
    containers = {name: inspect(name) for name in (stack.db, stack.cache, stack.web)}
    holder = inspect(stack.web_port)

    assert {name: c["HostConfig"]["PortBindings"] for name, c in containers.items()} == {
        stack.db: {},
        stack.cache: {},
        stack.web: {},
    }
    assert holder["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(stack.port)}]
    }
    assert containers[stack.web]["HostConfig"]["NetworkMode"] == f"container:{holder['Id']}"
    assert holder["HostConfig"]["Sysctls"] == {"net.ipv4.tcp_migrate_req": "1"}
    assert holder["Config"]["Healthcheck"]["Test"] == ["NONE"]


def test_down_keeps_data_and_down_volumes_removes_everything(stack):
    accesses, visits = counts(stack)

    stack.down()
    after_down = [labelled(kind, stack.prefix) for kind in ("container", "network", "volume")]
    stack.up()
    resumed = counts(stack)
    stack.down(volumes=True)
    after_down_volumes = [
        labelled(kind, stack.prefix) for kind in ("container", "network", "volume")
    ]
    stack.up()

    assert after_down == [[], [], [f"{stack.prefix}-pgdata", f"{stack.prefix}-redisdata"]]
    assert resumed == (accesses + 1, visits + 1)
    assert after_down_volumes == [[], [], []]
    assert counts(stack) == (1, 1)


def test_up_failure_names_the_step_and_leaves_nothing_running():
    broken = Stack("visits-test-broken", free_port())
    try:
        output = broken.script(
            "up", expect_success=False, POSTGRES_IMAGE="visits-test-no-such-image:0"
        )
        running = labelled("container", broken.prefix)
    finally:
        broken.down(volumes=True)

    assert output.splitlines()[-1] == "error: could not get the PostgreSQL image"
    assert running == []
