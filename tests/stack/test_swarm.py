"""
deploy/swarm/stack.yaml on a real three-node swarm (tests/stack/swarm_cluster.py):
placement, load through the proxy, the proxy's trust and retries, the connection
budget while web scales up, a slow migration, a rolling update and a lost node
under traffic, and the volumes outliving the stack. The tests share one
deployment and run in this order; each reads the counts it starts from.
"""

import http.client
import ipaddress
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devservices.servers import free_port
from tests.stack.docker_cli import docker
from tests.stack.swarm_cluster import SwarmCluster, run
from tests.support.servers import PROJECT_ROOT, Reply, fetch

STACK = "visits-test-swarm"
WEB_IMAGE = f"{STACK}-web"
DATA_LABEL = "visits.data"
JSON = {"Accept": "application/json"}
# The stack's variables for the images that run on the manager only (the data node).
MANAGER_IMAGES = {
    "POSTGRES_IMAGE": "postgres:15",
    "REDIS_IMAGE": "redis:7",
    "PROXY_IMAGE": "haproxy:2.6",
}
# The stack's network (its default VISITS_SUBNET): the proxy's addresses lie in it.
STACK_SUBNET = ipaddress.ip_network("10.231.0.0/24")
# The admin only from the manager's loopback, which no client through the proxy has.
ADMIN_NETWORKS = "127.0.0.1/32"
# A client on a private network: in 10.0.0.0/8, outside the stack's network.
CLIENT_ADDRESS = "10.77.0.5"


class Deployment:
    """The stack deployed on the cluster, reached through the proxy's published port."""

    def __init__(self, cluster: SwarmCluster, secrets_dir, port: int, images: dict[str, str]):
        self.cluster = cluster
        self.port = port
        self.environment = {
            **os.environ,
            "VISITS_PORT": str(port),
            "VISITS_SECRETS_DIR": str(secrets_dir),
            "DJANGO_ADMIN_ALLOWED_NETWORKS": ADMIN_NETWORKS,
            **images,
        }

    def deploy(self) -> None:
        # Images named by ID, never resolved: no engine asks a registry for them.
        subprocess.run(
            ["docker", "stack", "deploy", "--resolve-image", "never",
             "--compose-file", "deploy/swarm/stack.yaml", STACK],
            cwd=PROJECT_ROOT, env=self.environment, check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def replicas(self) -> dict[str, str]:
        """Running/desired tasks by service, e.g. {"web": "3/3", ...}."""
        listing = docker(
            "service", "ls", "--filter", f"label=com.docker.stack.namespace={STACK}",
            "--format", "{{.Name}} {{.Replicas}}",
        )  # fmt: skip
        return {
            name.removeprefix(f"{STACK}_"): replicas.split(" ")[0]
            for name, replicas in (line.split(" ", 1) for line in listing.splitlines())
        }

    def wait_converged(self, seconds: float = 240) -> float:
        """Waits until every task runs (healthy) and the proxy reaches web; returns the wait."""
        started = time.monotonic()
        # db-setup runs once: 0/1 when it has done its work (see the role test).
        expected = {"proxy": "1/1", "web": "3/3", "db": "1/1", "cache": "1/1", "db-setup": "0/1"}
        while self.replicas() != expected or self.try_get("/readyz").status != 200:
            if time.monotonic() - started > seconds:
                raise AssertionError(f"not converged in {seconds} s: {self.replicas()}")
            time.sleep(0.5)
        return time.monotonic() - started

    def nodes_of(self, service: str) -> list[str]:
        """Host names of the nodes running the service's tasks, sorted."""
        listing = docker(
            "service", "ps", "--filter", "desired-state=running", "--format",
            "{{.Node}} {{.CurrentState}}", f"{STACK}_{service}",
        )  # fmt: skip
        return sorted(line.split()[0] for line in listing.splitlines() if " Running " in line)

    def task_ids(self, service: str) -> list[str]:
        """IDs of the service's tasks that should be running, sorted."""
        listing = docker(
            "service", "ps", "--quiet", "--filter", "desired-state=running", f"{STACK}_{service}"
        )
        return sorted(listing.split())

    def try_get(self, path: str = "/", **kwargs) -> Reply:
        try:
            return fetch(self.port, path, **kwargs)
        except OSError as error:
            return Reply(0, {}, str(error))

    def counts(self) -> tuple[int, int]:
        """Records one visit and returns the (accesses, visits) it was answered with."""
        reply = fetch(self.port, "/", headers=JSON)
        assert reply.status == 200, reply.body
        answer = json.loads(reply.body)
        return answer["accesses"], answer["visits"]

    def sql(self, query: str) -> str:
        """QUERY's rows as psql prints them unaligned, run in db's container."""
        db = docker("ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={STACK}_db")
        return docker("exec", "--user", "postgres", db, "psql", "--dbname", "visits",
                      "--tuples-only", "--no-align", "--command", query)  # fmt: skip

    def engines(self) -> dict:
        """Each node's docker command, by the node's host name."""
        engines = {self.cluster.manager_hostname: docker}
        return engines | {w.hostname: w.docker for w in self.cluster.workers.values()}

    def web_containers(self) -> list[tuple]:
        """(engine, container ID) of every running web container, on every node."""
        label = f"label=com.docker.swarm.service.name={STACK}_web"
        return [
            (engine, name)
            for engine in self.engines().values()
            for name in engine("ps", "--quiet", "--filter", label).split()
        ]

    def web_page_views_by_node(self) -> dict[str, int]:
        """`GET /` lines in the access log of each node's web container."""
        served = {}
        label = f"label=com.docker.swarm.service.name={STACK}_web"
        for hostname, engine in self.engines().items():
            names = engine("ps", "--quiet", "--filter", label).split()
            logs = "".join(engine("logs", name) for name in names)
            served[hostname] = len(re.findall(r'"GET / HTTP/1\.[01]"', logs))
        return served


class Traffic:
    """
    Page views at a steady pace from a few threads, until stopped; records every
    answer, by the User-Agent each request carried: LABEL-N, N counting from 1.
    """

    def __init__(
        self, deployment: Deployment, *, threads: int = 4, pause: float = 0.1, label: str = ""
    ):
        self.deployment = deployment
        self.pause = pause
        self.label = label or f"swarm-{time.monotonic_ns()}"
        self.replies: list[Reply] = []
        self.by_user_agent: dict[str, Reply] = {}
        self._numbers = itertools.count(1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            user_agent = f"{self.label}-{next(self._numbers)}"
            reply = self.deployment.try_get("/", headers={"User-Agent": user_agent})
            self.replies.append(reply)
            self.by_user_agent[user_agent] = reply
            time.sleep(self.pause)

    def __enter__(self) -> "Traffic":
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.seconds = time.monotonic() - self.started

    def statuses(self) -> Counter:
        return Counter(reply.status for reply in self.replies)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with SwarmCluster(prefix=STACK) as cluster:
        docker("build", "--quiet", "--tag", WEB_IMAGE, str(PROJECT_ROOT))
        images = {variable: image_id(tag) for variable, tag in MANAGER_IMAGES.items()}
        images["VISITS_WEB_IMAGE"] = cluster.load_image(WEB_IMAGE)
        docker("node", "update", "--label-add", f"{DATA_LABEL}=true", cluster.manager_hostname)
        secrets_dir = tmp_path_factory.mktemp("swarm") / "secrets"
        subprocess.run([PROJECT_ROOT / "docker" / "make-secrets", secrets_dir], check=True)
        deployed = Deployment(cluster, secrets_dir, free_port(), images)
        try:
            deployed.deploy()
            print(f"\nswarm: converged {deployed.wait_converged():.0f} s after deploy")
            yield deployed
        finally:
            docker("stack", "rm", STACK, check=False)
            remove_stack_volumes()
    docker("image", "rm", WEB_IMAGE, check=False)


def image_id(tag: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", tag)


def stack_volumes() -> list[str]:
    listing = docker(
        "volume", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={STACK}"
    )
    return sorted(listing.split())


def remove_stack_volumes() -> None:
    """Volumes outlive their containers by a moment after `docker stack rm`."""
    deadline = time.monotonic() + 60
    while stack_volumes() and time.monotonic() < deadline:
        docker("volume", "rm", *stack_volumes(), check=False)
        time.sleep(1)


def test_swarm_stack_puts_data_on_the_data_node_and_one_web_replica_on_each_node(deployment):
    cluster = deployment.cluster
    every_node = sorted([cluster.manager_hostname, *(w.hostname for w in cluster.workers.values())])

    assert deployment.nodes_of("db") == [cluster.manager_hostname]
    assert deployment.nodes_of("cache") == [cluster.manager_hostname]
    assert deployment.nodes_of("proxy") == [cluster.manager_hostname]
    assert deployment.nodes_of("web") == every_node


def test_swarm_services_are_confined_and_web_connects_as_the_role_db_setup_made(deployment):
    deployment.counts()
    setup_states = docker(
        "service", "ps", "--format", "{{.CurrentState}}", f"{STACK}_db-setup"
    ).splitlines()
    sessions = deployment.sql(
        "SELECT DISTINCT usename, usesuper FROM pg_stat_activity JOIN pg_user USING (usename) "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )

    assert setup_states[0].startswith("Complete")
    assert sessions == "visits|f"
    for service in ("proxy", "web", "db-setup", "db", "cache"):
        spec = json.loads(
            docker(
                "service",
                "inspect",
                "--format",
                "{{json .Spec.TaskTemplate}}",
                f"{STACK}_{service}",
            )
        )
        assert spec["ContainerSpec"]["ReadOnly"] is True, service
        assert spec["ContainerSpec"]["CapabilityDrop"] == ["ALL"], service
        assert spec["Resources"]["Limits"]["NanoCPUs"] > 0, service
        assert spec["LogDriver"] == {
            "Name": "json-file",
            "Options": {"max-file": "3", "max-size": "10m"},
        }, service


def test_swarm_stack_serves_1000_views_through_the_proxy_from_every_node(deployment):
    accesses, visits = deployment.counts()
    served_before = deployment.web_page_views_by_node()

    with ThreadPoolExecutor(max_workers=32) as pool:
        replies = list(pool.map(lambda _: deployment.try_get("/"), range(1000)))
    # gunicorn logs a request after answering it, and Docker collects the line a moment later.
    deadline = time.monotonic() + 10
    while True:
        served = Counter(deployment.web_page_views_by_node())
        served.subtract(served_before)
        if sum(served.values()) >= 1000 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"\nswarm: 1,000 views served per node: {dict(served)}")

    # The proxy's own address (on the stack's network) is a trusted proxy's, not the client's.
    addresses = deployment.sql(
        "SELECT DISTINCT client_address FROM (SELECT client_address FROM visits_access "
        "ORDER BY id DESC LIMIT 1000) AS recent"
    )

    assert Counter(reply.status for reply in replies) == {200: 1000}
    assert deployment.counts() == (accesses + 1001, visits + 1001)
    assert len(addresses.split()) == 1
    assert ipaddress.ip_address(addresses) not in STACK_SUBNET
    assert sum(served.values()) == 1000
    assert all(views > 0 for views in served.values()), served


@pytest.fixture
def private_network_client(deployment):
    """
    Fetches through the proxy from CLIENT_ADDRESS, an address of 10.0.0.0/8 outside the
    stack's network (a client on a private network), given to the test swarm's own bridge.
    """
    bridge = deployment.cluster.bridge
    run("ip", "address", "add", f"{CLIENT_ADDRESS}/32", "dev", bridge)

    def fetch_from(path: str, headers: dict[str, str]) -> Reply:
        connection = http.client.HTTPConnection(
            deployment.cluster.manager_address, deployment.port, timeout=30,
            source_address=(CLIENT_ADDRESS, 0),
        )  # fmt: skip
        try:
            connection.request("GET", path, headers={"Host": "localhost", **headers})
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read().decode())
        finally:
            connection.close()

    yield fetch_from
    run("ip", "address", "delete", f"{CLIENT_ADDRESS}/32", "dev", bridge)


def test_swarm_proxy_stores_the_real_address_of_a_client_that_claims_to_be_localhost(
    deployment, private_network_client
):
    """
    X-Forwarded-For: 127.0.0.1 from a client on a private network gets neither /metrics nor
    the admin, which answers 127.0.0.1 alone here (ADMIN_NETWORKS), and the client is stored
    under its own address: the proxy replaces the header, and web trusts the stack's network
    alone, not every private address.
    """
    spoofed = {"X-Forwarded-For": "127.0.0.1", "User-Agent": "swarm-spoofed"}
    private_network_client("/", {"User-Agent": "swarm-honest"})
    page = private_network_client("/", spoofed)
    scrape = private_network_client("/metrics", spoofed)
    admin = private_network_client("/admin/login/", spoofed)
    stored = deployment.sql(
        "SELECT user_agent || ' ' || host(client_address) FROM visits_access "
        "WHERE user_agent IN ('swarm-honest', 'swarm-spoofed') ORDER BY id"
    ).splitlines()

    assert (page.status, scrape.status, admin.status) == (200, 404, 404)
    assert stored == [f"swarm-honest {CLIENT_ADDRESS}", f"swarm-spoofed {CLIENT_ADDRESS}"]


def test_swarm_cache_outage_leaves_web_serving_and_its_replicas_in_place(deployment):
    accesses, visits = deployment.counts()
    replicas_before = deployment.task_ids("web")

    docker("service", "scale", "--detach=false", f"{STACK}_cache=0", timeout=120)
    # A view every 5 s for longer than three failed health checks (3 x 5 s) would take to
    # get a replica replaced. Each runs on its own: with cache's name gone from Docker's
    # DNS, a lookup may wait for the resolvers of the host, which containers here lack.
    with ThreadPoolExecutor(max_workers=5) as pool:
        views = []
        for _ in range(5):
            views.append(pool.submit(fetch, deployment.port, "/", headers=JSON))
            time.sleep(5)
        outage = [view.result() for view in views]
    replicas_during = deployment.task_ids("web")
    docker("service", "scale", "--detach=false", f"{STACK}_cache=1", timeout=120)
    after = [json.loads(fetch(deployment.port, "/", headers=JSON).body)]
    while after[-1]["visits"] is None and len(after) < 60:
        time.sleep(1)
        after.append(json.loads(fetch(deployment.port, "/", headers=JSON).body))

    assert [(reply.status, json.loads(reply.body)["visits"]) for reply in outage] == [
        (200, None)
    ] * 5
    assert replicas_during == replicas_before
    assert (after[-1]["accesses"], after[-1]["visits"]) == (accesses + 5 + len(after), visits + 1)


def test_swarm_proxy_holds_slow_clients_while_web_keeps_answering(deployment):
    """Slow clients, twice as many as web has threads (3 replicas x 2 workers x 8), hold the
    proxy and not web: /healthz keeps answering within a second."""
    slow = [socket.create_connection(("127.0.0.1", deployment.port)) for _ in range(96)]
    latencies = []
    try:
        for byte in b"GET / HT":
            for connection in slow:
                connection.sendall(bytes([byte]))
            started = time.monotonic()
            reply = deployment.try_get("/healthz")
            latencies.append((reply.status, time.monotonic() - started))
            time.sleep(1)
    finally:
        for connection in slow:
            connection.close()
    print(f"\nswarm: /healthz beside 96 slow clients, slowest {max(s for _, s in latencies):.3f} s")

    assert [status for status, _ in latencies] == [200] * 8
    assert max(seconds for _, seconds in latencies) < 1


def test_swarm_web_scaled_to_5_under_load_stays_within_postgresqls_connections(deployment):
    """
    5 replicas' threads (5 x 2 workers x 8 = 80) against max_connections 32: each worker's
    pool (DB_POOL_SIZE=2) queues its threads, no request fails and every view counts once.
    """
    accesses, visits = deployment.counts()
    in_use = []
    with Traffic(deployment, threads=24, pause=0, label="swarm-scale") as traffic:
        docker("service", "scale", "--detach=false", f"{STACK}_web=5", timeout=300)
        for _ in range(20):
            # psql's own session counts too.
            in_use.append(int(deployment.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )))  # fmt: skip
            time.sleep(0.5)
        scaled_to = len(deployment.task_ids("web"))
    docker("service", "scale", "--detach=false", f"{STACK}_web=3", timeout=300)
    served = traffic.statuses()[200]
    print(f"\nswarm: scaled to 5 under load: {len(traffic.replies)} views in "
          f"{traffic.seconds:.0f} s, answers {dict(traffic.statuses())}, PostgreSQL sessions "
          f"at most {max(in_use)}")  # fmt: skip

    assert scaled_to == 5
    assert deployment.sql("SHOW max_connections") == "32"
    assert max(in_use) <= 5 * 2 * 2 + 1
    assert traffic.statuses() == {200: len(traffic.replies)}
    assert deployment.counts() == (accesses + served + 1, visits + served + 1)


def test_swarm_replicas_killed_under_traffic_never_store_a_view_twice(deployment):
    """
    A web replica SIGKILLed every 5 s: the proxy sends a request again only when it
    never reached a replica, so no view is stored twice, and no visit is counted
    without its stored access. A request in flight in a killed replica fails (502).
    """
    accesses, visits = deployment.counts()
    with Traffic(deployment, threads=16, pause=0, label="swarm-kill") as traffic:
        for kill in range(6):
            time.sleep(5)
            containers = deployment.web_containers()
            engine, container = containers[kill % len(containers)]
            engine("kill", "--signal", "KILL", container)
        time.sleep(5)
    deployment.wait_converged()
    rows = dict(
        line.split("|")
        for line in deployment.sql(
            "SELECT user_agent, count(*) FROM visits_access "
            "WHERE user_agent LIKE 'swarm-kill-%' GROUP BY user_agent"
        ).splitlines()
    )
    now_accesses, now_visits = deployment.counts()
    answered = {agent for agent, reply in traffic.by_user_agent.items() if reply.status == 200}
    failed = Counter(reply.status for reply in traffic.replies if reply.status != 200)
    failed_but_stored = sum(1 for agent in rows if agent not in answered)
    print(f"\nswarm: 6 replicas killed under {len(traffic.replies)} views: {len(answered)} "
          f"answered, failed {dict(failed)} ({failed_but_stored} of them stored), "
          f"{len(rows) - (now_visits - visits - 1)} stored but not counted")  # fmt: skip

    assert set(rows.values()) == {"1"}
    assert answered <= set(rows)
    assert set(failed) <= {502, 504}
    assert now_accesses == accesses + len(rows) + 1
    assert len(answered) + 1 <= now_visits - visits <= len(rows) + 1


SLOW = "0999_test_slow"


@pytest.fixture(scope="module")
def slow_migration():
    """A migration after the project's last that sleeps 60 s, in a folder web's user can read."""
    latest = max(path.stem for path in (PROJECT_ROOT / "visits" / "migrations").glob("0*.py"))
    folder = Path(tempfile.mkdtemp(prefix="visits-test-migration-"))
    folder.chmod(0o755)
    migration = folder / f"{SLOW}.py"
    migration.write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('visits', '{latest}')]\n"
        "    operations = [migrations.RunSQL('SELECT pg_sleep(60)', migrations.RunSQL.noop)]\n"
    )
    migration.chmod(0o644)
    yield migration
    shutil.rmtree(folder)


def test_swarm_update_with_a_slow_migration_lets_db_setup_run_it_while_web_waits(
    deployment, slow_migration
):
    """
    A new migration that runs for 60 s, longer than web's health check once gave a
    starting replica (30 s, then 3 x 5 s): db-setup applies it, web's new replicas
    wait for it and then serve, the old ones serve meanwhile, and no request fails.
    """
    mount = (f"type=bind,source={slow_migration},"
             f"target=/app/visits/migrations/{slow_migration.name},readonly")  # fmt: skip
    accesses, visits = deployment.counts()
    waiting = f"Waiting up to 300 s for the one-off migrate step to apply visits.{SLOW}"
    # Only the lines from now on: the service's whole log runs to tens of thousands by now.
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with Traffic(deployment, label="swarm-migration") as traffic:
        docker("service", "update", "--detach", "--quiet", "--mount-add", mount, f"{STACK}_web")
        started = time.monotonic()
        while waiting not in docker("service", "logs", "--raw", "--since", since, f"{STACK}_web"):
            assert time.monotonic() - started < 120, "no new web replica waits for the migration"
            time.sleep(1)
        waiting_since = time.monotonic()
        docker("service", "update", "--detach", "--quiet", "--mount-add", mount,
               f"{STACK}_db-setup")  # fmt: skip
        while docker("service", "inspect", "--format", "{{.UpdateStatus.State}}",
                     f"{STACK}_web") != "completed":  # fmt: skip
            assert time.monotonic() - waiting_since < 300, "web's update did not complete"
            time.sleep(1)
        waited = time.monotonic() - waiting_since
    served = traffic.statuses()[200]
    print(f"\nswarm: web's new replica waited {waited:.0f} s for the migration; "
          f"answers {dict(traffic.statuses())}")  # fmt: skip
    applied = deployment.sql("SELECT count(*) FROM django_migrations WHERE name = '0999_test_slow'")

    assert applied == "1"
    assert waited > 30 + 3 * 5
    assert traffic.statuses() == {200: len(traffic.replies)}
    assert deployment.counts() == (accesses + served + 1, visits + served + 1)


def test_swarm_rolling_update_of_web_under_traffic_fails_no_request(deployment):
    accesses, visits = deployment.counts()

    with Traffic(deployment) as traffic:
        docker(
            "service",
            "update",
            "--force",
            "--no-resolve-image",
            "--quiet",
            f"{STACK}_web",
            timeout=600,
        )
    rate = len(traffic.replies) / traffic.seconds
    print(f"\nswarm: rolling update took {traffic.seconds:.0f} s at {rate:.0f} views/s, "
          f"answers {dict(traffic.statuses())}")  # fmt: skip

    assert traffic.statuses() == {200: len(traffic.replies)}
    assert rate >= 20
    assert deployment.counts() == (
        accesses + len(traffic.replies) + 1,
        visits + len(traffic.replies) + 1,
    )


def test_swarm_lost_worker_keeps_the_service_answering_and_is_replaced(deployment):
    accesses, visits = deployment.counts()

    with Traffic(deployment) as traffic:
        lost = time.monotonic()
        deployment.cluster.stop_node("node1")
        while deployment.cluster.node_state("node1") != "down":
            time.sleep(0.2)
        noticed = time.monotonic() - lost
        lost_hostname = deployment.cluster.workers["node1"].hostname
        while len(web := deployment.nodes_of("web")) != 3 or lost_hostname in web:
            assert time.monotonic() - lost < 180, f"web not replaced in 180 s: {web}"
            time.sleep(0.2)
        recovered = time.monotonic() - lost
    print(f"\nswarm: node1 lost; seen down after {noticed:.1f} s, 3/3 web again after "
          f"{recovered:.1f} s; answers {dict(traffic.statuses())}")  # fmt: skip
    served = traffic.statuses()[200]

    assert traffic.statuses() == {200: len(traffic.replies)}
    assert deployment.counts() == (accesses + served + 1, visits + served + 1)
    assert set(web) == {
        deployment.cluster.manager_hostname,
        deployment.cluster.workers["node2"].hostname,
    }


def test_swarm_stack_removed_keeps_its_volumes(deployment):
    docker("stack", "rm", STACK)

    assert stack_volumes() == [f"{STACK}_pgdata", f"{STACK}_redisdata"]
