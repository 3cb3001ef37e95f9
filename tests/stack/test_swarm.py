"""
deploy/swarm/stack.yaml on a real three-node swarm (tests/stack/swarm_cluster.py):
placement, HTTPS from every node, load through the proxy, Prometheus' scrapes,
the proxy's trust and retries, the connection budget while web scales up, a slow
migration, a rolling update and a lost node under traffic, and the volumes
outliving the stack. The tests share one deployment and run in this order; each
reads the counts it starts from. Every request goes over HTTPS, checked against
the test's own certificate (tls_certificate).
"""

import http.client
import ipaddress
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import ssl
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
from tests.support.servers import PROJECT_ROOT, Reply

STACK = "visits-test-swarm"
WEB_IMAGE = f"{STACK}-web"
DATA_LABEL = "visits.data"
JSON = {"Accept": "application/json"}
# The stack's variables for the images that run on the manager only (the data node).
MANAGER_IMAGES = {
    "POSTGRES_IMAGE": "postgres:15",
    "REDIS_IMAGE": "redis:7",
    "PROMETHEUS_IMAGE": "prom/prometheus:v2.42.0",
}
# The same for the images that run on every node, copied to the workers.
EVERY_NODE_IMAGES = {"PROXY_IMAGE": "haproxy:2.6", "VISITS_WEB_IMAGE": WEB_IMAGE}
# The stack's network (its default VISITS_SUBNET): the proxy's addresses lie in it.
STACK_SUBNET = ipaddress.ip_network("10.231.0.0/24")
# Clients on a private network: in 10.0.0.0/8, outside the stack's network, given to
# the test swarm's own bridge. The admin answers the second alone.
CLIENT_ADDRESS = "10.77.0.5"
ADMIN_CLIENT_ADDRESS = "10.77.0.6"
ADMIN_NETWORKS = f"{ADMIN_CLIENT_ADDRESS}/32"
# What the stack sets (DJANGO_HSTS_SECONDS).
HSTS = "max-age=3600"


class Deployment:
    """The stack deployed on the cluster, reached through the proxy's published port."""

    def __init__(self, cluster: SwarmCluster, secrets_dir: Path, images: dict[str, str]):
        self.cluster = cluster
        self.http_port = free_port()
        self.port = free_port()  # HTTPS
        self.tls = ssl.create_default_context(cafile=secrets_dir / "tls.pem")
        self.environment = {
            **os.environ,
            "VISITS_HTTP_PORT": str(self.http_port),
            "VISITS_HTTPS_PORT": str(self.port),
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
        expected = {
            "proxy": "3/3", "web": "3/3", "db": "1/1", "cache": "1/1", "db-setup": "0/1",
            "prometheus": "1/1",
        }  # fmt: skip
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

    def get(
        self, path: str = "/", *, address: str = "127.0.0.1", source: str = "", **kwargs
    ) -> Reply:
        """
        One HTTPS request to the proxy on the node at address, from the source address, for
        the host localhost (as a client of a name whose DNS lists every node would send).
        """
        connection = http.client.HTTPSConnection(
            address, self.port, timeout=30, context=self.tls,
            source_address=(source, 0) if source else None,
        )  # fmt: skip
        headers = {"Host": f"localhost:{self.port}", **kwargs.pop("headers", {})}
        try:
            return exchange(connection, path, headers=headers, **kwargs)
        finally:
            connection.close()

    def try_get(self, path: str = "/", **kwargs) -> Reply:
        try:
            return self.get(path, **kwargs)
        except OSError as error:
            return Reply(0, {}, str(error))

    def counts(self) -> tuple[int, int]:
        """Records one visit and returns the (accesses, visits) it was answered with."""
        reply = self.get("/", headers=JSON)
        assert reply.status == 200, reply.body
        answer = json.loads(reply.body)
        return answer["accesses"], answer["visits"]

    def sql(self, query: str) -> str:
        """QUERY's rows as psql prints them unaligned, run in db's container."""
        db = docker("ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={STACK}_db")
        return docker("exec", "--user", "postgres", db, "psql", "--dbname", "visits",
                      "--tuples-only", "--no-align", "--command", query)  # fmt: skip

    def prometheus(self, query: str) -> list[float]:
        """The values of an instant QUERY, asked of Prometheus' HTTP API from its container."""
        container = docker(
            "ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={STACK}_prometheus"
        )
        answer = docker("exec", container, "promtool", "query", "instant",
                        "http://127.0.0.1:9090", query)  # fmt: skip
        return [float(value) for value in re.findall(r"=> (\S+) @", answer)]

    def wait_scraped(self, *, targets: int, after: float) -> None:
        """Waits until Prometheus has scraped each of TARGETS web replicas since AFTER (epoch)."""
        deadline = time.monotonic() + 90
        while True:
            up = self.prometheus('up{job="visits"}')
            scraped = self.prometheus('timestamp(up{job="visits"})')
            if up == [1.0] * targets and len(scraped) == targets and min(scraped) > after:
                return
            assert time.monotonic() < deadline, f"not scraped in 90 s: up {up}, at {scraped}"
            time.sleep(1)

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
        for variable, tag in EVERY_NODE_IMAGES.items():
            images[variable] = cluster.load_image(tag)
        docker("node", "update", "--label-add", f"{DATA_LABEL}=true", cluster.manager_hostname)
        secrets_dir = tmp_path_factory.mktemp("swarm") / "secrets"
        secrets_dir.mkdir(mode=0o700)
        write_certificate(secrets_dir / "tls.pem", node_addresses(cluster))
        # It keeps the certificate, and writes the passwords and the key.
        subprocess.run([PROJECT_ROOT / "docker" / "make-secrets", secrets_dir], check=True)
        deployed = Deployment(cluster, secrets_dir, images)
        try:
            deployed.deploy()
            print(f"\nswarm: converged {deployed.wait_converged():.0f} s after deploy")
            yield deployed
        finally:
            docker("stack", "rm", STACK, check=False)
            remove_stack_volumes()
    docker("image", "rm", WEB_IMAGE, check=False)


def node_addresses(cluster: SwarmCluster) -> list[str]:
    return [cluster.manager_address, *(worker.address for worker in cluster.workers.values())]


def write_certificate(path: Path, addresses: list[str]) -> None:
    """A self-signed certificate and its key, in one file, for localhost and ADDRESSES."""
    names = ",".join(["DNS:localhost", "IP:127.0.0.1", *(f"IP:{a}" for a in addresses)])
    with tempfile.TemporaryDirectory() as scratch:
        key, certificate = Path(scratch) / "key.pem", Path(scratch) / "certificate.pem"
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", f"subjectAltName={names}",
            "-keyout", str(key), "-out", str(certificate))  # fmt: skip
        path.write_text(certificate.read_text() + key.read_text())
    path.chmod(0o644)


def exchange(
    connection: http.client.HTTPConnection, path: str, *, method: str = "GET",
    headers: dict[str, str] | None = None, body: str | None = None,
) -> Reply:  # fmt: skip
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    answer = response.read().decode("utf-8")
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, answer)


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
    assert deployment.nodes_of("prometheus") == [cluster.manager_hostname]
    assert deployment.nodes_of("proxy") == every_node
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
    for service in ("proxy", "web", "db-setup", "db", "cache", "prometheus"):
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


def test_swarm_proxy_serves_https_from_every_node_and_redirects_plain_http(deployment):
    """
    Each node's proxy answers the page over HTTPS with the stack's certificate (checked
    against it, for the node's address) and HSTS, and redirects plain HTTP, whatever path
    and port it was asked on, to the same place over HTTPS; web redirects nothing itself.
    """
    accesses, visits = deployment.counts()
    pages = [
        deployment.get("/", address=address, headers=JSON)
        for address in node_addresses(deployment.cluster)
    ]
    plain = http.client.HTTPConnection("127.0.0.1", deployment.http_port, timeout=30)
    try:
        redirect = exchange(
            plain, "/admin/login/?next=/admin/",
            headers={"Host": f"localhost:{deployment.http_port}"},
        )  # fmt: skip
    finally:
        plain.close()

    assert [(page.status, page.headers["strict-transport-security"]) for page in pages] == [
        (200, HSTS)
    ] * 3
    answers = [json.loads(page.body) for page in pages]
    assert [(answer["accesses"], answer["visits"]) for answer in answers] == [
        (accesses + n, visits + n) for n in (1, 2, 3)
    ]
    assert (redirect.status, redirect.headers["location"]) == (
        301, f"https://localhost:{deployment.port}/admin/login/?next=/admin/"
    )  # fmt: skip


def test_swarm_prometheus_scrapes_every_replica_and_their_stored_views_add_up(deployment):
    """
    Prometheus finds the three web replicas in Docker's DNS and scrapes /metrics over the
    stack's network: after N views through the proxy, the sum of the accesses the replicas
    say they stored has grown by exactly N, as the table has.
    """
    views = 300
    accesses, _ = deployment.counts()
    deployment.wait_scraped(targets=3, after=time.time())
    (before,) = deployment.prometheus('sum(visits_accesses_recorded_total{job="visits"})')
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: deployment.try_get("/"), range(views)))
    deployment.wait_scraped(targets=3, after=time.time())
    (after,) = deployment.prometheus('sum(visits_accesses_recorded_total{job="visits"})')
    per_replica = deployment.prometheus('visits_accesses_recorded_total{job="visits"}')
    stored = int(deployment.sql("SELECT count(*) FROM visits_access"))
    print(f"\nswarm: Prometheus' sum of stored accesses {before:.0f} -> {after:.0f} over "
          f"{views} views; per replica now {per_replica}; rows {stored}")  # fmt: skip

    assert Counter(reply.status for reply in replies) == {200: views}
    assert after - before == views
    assert stored == accesses + views
    assert len(per_replica) == 3


@pytest.fixture
def private_network_clients(deployment):
    """CLIENT_ADDRESS and ADMIN_CLIENT_ADDRESS on the test swarm's own bridge, for a test."""
    bridge = deployment.cluster.bridge
    for address in (CLIENT_ADDRESS, ADMIN_CLIENT_ADDRESS):
        run("ip", "address", "add", f"{address}/32", "dev", bridge)
    yield
    for address in (CLIENT_ADDRESS, ADMIN_CLIENT_ADDRESS):
        run("ip", "address", "delete", f"{address}/32", "dev", bridge)


def test_swarm_proxy_stores_the_real_address_of_a_client_that_claims_to_be_another(
    deployment, private_network_clients
):
    """
    X-Forwarded-For naming the admin's client and the stack's own network (where Prometheus
    scrapes from), from another client on a private network, gets neither /metrics nor the
    admin, and the client is stored under its own address: the proxy replaces the header,
    and web trusts the stack's network alone, not every private address.
    """
    prometheus_address = str(next(STACK_SUBNET.hosts()))
    spoofed = {
        "X-Forwarded-For": f"{ADMIN_CLIENT_ADDRESS}, {prometheus_address}",
        "User-Agent": "swarm-spoofed",
    }
    # Straight to the manager's address on the bridge: through loopback, Docker's port
    # proxy would connect in its own name.
    client = {"address": deployment.cluster.manager_address, "source": CLIENT_ADDRESS}
    deployment.get("/", **client, headers={"User-Agent": "swarm-honest"})
    page = deployment.get("/", **client, headers=spoofed)
    scrape = deployment.get("/metrics", **client, headers=spoofed)
    admin = deployment.get("/admin/login/", **client, headers=spoofed)
    stored = deployment.sql(
        "SELECT user_agent || ' ' || host(client_address) FROM visits_access "
        "WHERE user_agent IN ('swarm-honest', 'swarm-spoofed') ORDER BY id"
    ).splitlines()

    assert (page.status, scrape.status, admin.status) == (200, 404, 404)
    assert stored == [f"swarm-honest {CLIENT_ADDRESS}", f"swarm-spoofed {CLIENT_ADDRESS}"]


def test_swarm_admin_signs_in_over_https_with_secure_cookies(deployment, private_network_clients):
    """
    From the admin's network, the login form and a successful sign-in over HTTPS set the
    CSRF and session cookies Secure (DJANGO_HTTPS), and the admin's pages carry HSTS.
    """
    password = secrets.token_urlsafe(16)
    web = deployment.web_containers()[0]
    web[0]("exec", "--env", f"DJANGO_SUPERUSER_PASSWORD={password}", web[1], "python",
           "manage.py", "createsuperuser", "--noinput", "--username", "swarm-admin",
           "--email", "swarm-admin@example.com")  # fmt: skip
    host = f"localhost:{deployment.port}"
    origin = f"https://{host}"
    connection = http.client.HTTPSConnection(
        deployment.cluster.manager_address, deployment.port, timeout=30,
        context=deployment.tls, source_address=(ADMIN_CLIENT_ADDRESS, 0),
    )  # fmt: skip
    try:
        connection.request("GET", "/admin/login/", headers={"Host": host})
        form = connection.getresponse()
        form_cookies = form.msg.get_all("Set-Cookie") or []
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.read().decode())
        csrf_cookie = re.search(r"csrftoken=([^;]+)", " ".join(form_cookies))
        assert token, "no CSRF token in the login form"
        assert csrf_cookie, form_cookies
        connection.request(
            "POST", "/admin/login/?next=/admin/",
            body=f"csrfmiddlewaretoken={token[1]}&username=swarm-admin&password={password}",
            headers={
                "Host": host, "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf_cookie[1]}", "Origin": origin,
                "Referer": f"{origin}/admin/login/",
            },
        )  # fmt: skip
        signed_in = connection.getresponse()
        signed_in.read()
        session_cookies = signed_in.msg.get_all("Set-Cookie") or []
    finally:
        connection.close()

    assert form.status == 200
    assert (signed_in.status, signed_in.getheader("Location")) == (302, "/admin/")
    assert signed_in.getheader("Strict-Transport-Security") == HSTS
    (csrf,) = [cookie for cookie in form_cookies if cookie.startswith("csrftoken=")]
    (session,) = [cookie for cookie in session_cookies if cookie.startswith("sessionid=")]
    assert "; Secure" in csrf
    assert "; Secure" in session
    assert "; HttpOnly" in session


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
            views.append(pool.submit(deployment.get, "/", headers=JSON))
            time.sleep(5)
        outage = [view.result() for view in views]
    replicas_during = deployment.task_ids("web")
    docker("service", "scale", "--detach=false", f"{STACK}_cache=1", timeout=120)
    after = [json.loads(deployment.get("/", headers=JSON).body)]
    while after[-1]["visits"] is None and len(after) < 60:
        time.sleep(1)
        after.append(json.loads(deployment.get("/", headers=JSON).body))

    assert [(reply.status, json.loads(reply.body)["visits"]) for reply in outage] == [
        (200, None)
    ] * 5
    assert replicas_during == replicas_before
    assert (after[-1]["accesses"], after[-1]["visits"]) == (accesses + 5 + len(after), visits + 1)


def test_swarm_proxy_holds_slow_clients_while_web_keeps_answering(deployment):
    """Slow clients, twice as many as web has threads (3 replicas x 2 workers x 8), hold the
    proxy and not web: /healthz keeps answering within a second."""
    slow = [
        deployment.tls.wrap_socket(
            socket.create_connection(("127.0.0.1", deployment.port)), server_hostname="localhost"
        )
        for _ in range(96)
    ]
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

    assert stack_volumes() == [
        f"{STACK}_pgdata", f"{STACK}_prometheusdata", f"{STACK}_redisdata"
    ]  # fmt: skip
