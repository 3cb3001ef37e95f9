"""The project served by real gunicorn, as the container runs it."""

import os
import re
import subprocess
import threading
import time

import psycopg
import pytest
from django.db import connection

from devservices.servers import free_port
from tests.support.debian_programs import require
from tests.support.servers import BIN, PROJECT_ROOT, TlsProxy, raw_request
from visits.models import Access

pytestmark = pytest.mark.processes


def test_gunicorn_non_utf8_header_bytes_are_stored_not_a_500(gunicorn):
    server = gunicorn()

    reply = raw_request(
        server.port,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: caf\xc3\xa9 \xff\xfe\r\n"
        b"Connection: close\r\n\r\n",
    )

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")
    assert Access.objects.get().user_agent == "café \ufffd\ufffd"


def test_gunicorn_head_sends_headers_only_and_counts_nothing(gunicorn):
    server = gunicorn()

    reply = raw_request(
        server.port, b"HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"\r\n\r\n")
    assert Access.objects.count() == 0


def test_gunicorn_serves_admin_static_files_with_debug_off(gunicorn):
    server = gunicorn(DJANGO_DEBUG="false")

    login = server.get("/admin/login/")
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body)

    assert login.status == 200
    assert stylesheet is not None
    css = server.get(stylesheet.group(1))
    assert css.status == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "max-age=315360000" in css.headers["cache-control"]


def test_gunicorn_sigterm_finishes_request_in_flight(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="1", WEB_THREADS="1", DB_LOCK_TIMEOUT="30")
    replies = []
    # Hold the table so the request waits inside the worker while SIGTERM arrives.
    with psycopg.connect(
        host=connection.settings_dict["HOST"],
        port=connection.settings_dict["PORT"],
        user=connection.settings_dict["USER"],
        password=connection.settings_dict["PASSWORD"],
        dbname=connection.settings_dict["NAME"],
    ) as blocker:
        blocker.execute("LOCK TABLE visits_access IN EXCLUSIVE MODE")
        request = threading.Thread(target=lambda: replies.append(server.get("/")))
        request.start()
        time.sleep(1)
        server.process.terminate()
        time.sleep(1)
        assert server.process.poll() is None
    request.join(timeout=30)
    exit_status = server.process.wait(timeout=30)

    assert [(reply.status, reply.body) for reply in replies] == [
        (200, "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")
    ]
    assert exit_status == 0
    assert Access.objects.count() == 1


def test_gunicorn_secret_key_from_file_is_not_replaced_by_a_generated_one(gunicorn, tmp_path):
    (tmp_path / "secret_key").write_text("a-key-from-a-file-" + "x" * 40 + "\n")
    server = gunicorn(DJANGO_SECRET_KEY="", DJANGO_SECRET_KEY_FILE=str(tmp_path / "secret_key"))

    reply = server.get("/")

    assert reply.status == 200
    assert "DJANGO_SECRET_KEY is not set" not in server.log()


def test_gunicorn_believes_forwarded_proto_only_from_trusted_proxies(gunicorn):
    """Behind a TLS proxy of DJANGO_TRUSTED_PROXIES, https is seen: no redirect loop."""
    behind_proxy = gunicorn(DJANGO_HTTPS="true", DJANGO_TRUSTED_PROXIES="127.0.0.0/8")
    direct = gunicorn(DJANGO_HTTPS="true", DJANGO_TRUSTED_PROXIES="")
    https = {"X-Forwarded-Proto": "https", "Host": "localhost"}

    trusted = behind_proxy.get("/admin/login/", headers=https)
    untrusted = direct.get("/admin/login/", headers=https)

    assert trusted.status == 200
    assert "Secure" in trusted.headers["set-cookie"]
    assert (untrusted.status, untrusted.headers["location"]) == (
        301,
        "https://localhost/admin/login/",
    )


def test_gunicorn_client_reaching_it_directly_cannot_choose_its_address(gunicorn):
    server = gunicorn()

    server.get("/", headers={"X-Forwarded-For": "6.6.6.6"})

    assert Access.objects.get().client_address == "127.0.0.1"


# gunicorn refuses a header line over 8,190 bytes itself (431), before Django sees it.
HOSTILE = [
    ("Accept-Language of 8 kB", {"Accept-Language": "x" * 8_000}, 200),
    ("Accept-Language of 10 kB", {"Accept-Language": "x" * 10_000}, 431),
    ("Accept with 1,000 ranges", {"Accept": ",".join(["x/y"] * 999 + ["text/html"])}, 200),
    ("Accept with parameters", {"Accept": "application/json; charset=utf-8; q=1"}, 200),
    ("Host not allowed", {"Host": "evil.example"}, 400),
    ("a header line of 16 kB", {"X-Padding": "x" * 16_000}, 431),
    ("zone id in X-Forwarded-For", {"X-Forwarded-For": "fe80::1%eth0"}, 200),
    ("100 X-Forwarded-For hops", {"X-Forwarded-For": ", ".join(["198.51.100.9"] * 100)}, 200),
]


@pytest.mark.parametrize(("case", "headers", "status"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_gunicorn_hostile_headers_get_a_clear_answer_never_a_5xx(gunicorn, case, headers, status):
    server = gunicorn(DJANGO_TRUSTED_PROXIES="127.0.0.1")

    reply = server.get("/", headers=headers)

    assert reply.status == status, reply.body
    assert "Internal Server Error" not in server.log()


def test_gunicorn_body_on_get_is_ignored_and_the_view_counted(gunicorn):
    server = gunicorn()

    reply = raw_request(
        server.port,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )

    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.")


@pytest.fixture
def tls_proxy():
    """Starts a real nginx terminating TLS in front of a port; removes it afterwards."""
    require("nginx", "openssl", packages="nginx-light openssl", tests="TLS proxy tests")
    started: list[TlsProxy] = []

    def start(upstream: int) -> TlsProxy:
        proxy = TlsProxy(upstream)
        started.append(proxy)
        proxy.start()
        return proxy

    yield start
    for proxy in started:
        proxy.remove()


def test_gunicorn_behind_a_tls_proxy_serves_https_with_secure_cookies_and_hsts(gunicorn, tls_proxy):
    server = gunicorn(
        DJANGO_HTTPS="true", DJANGO_TRUSTED_PROXIES="127.0.0.1", DJANGO_HSTS_SECONDS="3600"
    )
    proxy = tls_proxy(server.port)

    page = proxy.get("/")
    login = proxy.get("/admin/login/")
    plain = server.get("/", headers={"Host": "localhost"})

    assert (page.status, page.body) == (
        200,
        "Banco PostgreSQL tem 1 registros. Redis conta 1 visitas.",
    )
    assert page.headers["strict-transport-security"] == "max-age=3600"
    assert login.status == 200
    assert "; Secure" in login.headers["set-cookie"]
    assert (plain.status, plain.headers["location"]) == (301, "https://localhost/")
    assert Access.objects.get().client_address == "127.0.0.1"


def run_gunicorn(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    """gunicorn with the repository's config, run to its end (a bad config ends it at once)."""
    return subprocess.run(
        [BIN / "gunicorn", "--config", "gunicorn.conf.py", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "WEB_BIND": f"127.0.0.1:{free_port()}", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# One bad value of each kind, in gunicorn's own variables and in Django's settings,
# which gunicorn reads before it starts a worker.
BAD_VALUES = [
    ("WEB_THREADS", "four", "is not a whole number of at least 1; correct it or unset it."),
    ("WEB_TIMEOUT", "-1", "is not a whole number of at least 0; correct it or unset it."),
    ("WEB_REQUEST_TIMEOUT", "0", "is not a whole number of at least 1; correct it or unset it."),
    (
        "WEB_REUSE_PORT",
        "maybe",
        "is not a boolean; set it to one of 0, 1, false, no, off, on, true, yes, or unset it.",
    ),
    (
        "WEB_LOG_LEVEL",
        "loud",
        "is not one of debug, info, warning, error, critical; set it to one of them, or unset it.",
    ),
    (
        "WEB_BIND",
        "unix:/tmp/visits.sock",
        "is not a host:port address; write it as 0.0.0.0:8080, or unset it.",
    ),
    (
        "DJANGO_TRUSTED_PROXIES",
        "10.0.0.1/8",
        "is not a list of networks (10.0.0.1/8 has host bits set); write them as "
        "10.0.0.0/8,127.0.0.1, or unset it.",
    ),
    (
        "DB_STATEMENT_TIMEOUT",
        "soon",
        "is not a positive number of seconds; correct it or unset it.",
    ),
    (
        "DJANGO_DEBUG",
        "maybe",
        "is not a boolean; set it to one of 0, 1, false, no, off, on, true, yes, or unset it.",
    ),
    ("CACHE_PORT", "six", "is not a whole number of at least 1; correct it or unset it."),
]


@pytest.mark.parametrize(
    ("variable", "value", "problem"), BAD_VALUES, ids=[v[0] for v in BAD_VALUES]
)
def test_gunicorn_malformed_value_stops_it_with_one_line(variable, value, problem):
    result = run_gunicorn(**{variable: value})

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"Configuration error: {variable}={value!r} {problem}\n",
    )


def test_gunicorn_with_the_example_environment_runs_the_measured_default():
    """.env.example leaves WEB_CONCURRENCY out, so gunicorn runs the measured default."""
    example = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    environment = dict(line.split("=", 1) for line in example if re.match(r"[A-Z_]+=", line))
    result = subprocess.run(
        [BIN / "gunicorn", "--config", "gunicorn.conf.py", "--print-config"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "WEB_CONCURRENCY" not in environment
    settings = dict(
        re.findall(r"^(workers|threads|keepalive) += (.*)$", result.stdout, re.MULTILINE)
    )
    assert settings == {"workers": "2", "threads": "8", "keepalive": "2"}
