"""docker/healthcheck.py, run as the container runs it: a process asking gunicorn."""

import os
import subprocess
import sys

import pytest

from devservices.servers import free_port
from tests.support.servers import PROJECT_ROOT

pytestmark = pytest.mark.processes

HEALTHCHECK = PROJECT_ROOT / "docker" / "healthcheck.py"


def healthcheck(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """The check run from another folder, as Docker runs it (the script's path only)."""
    return subprocess.run(
        [sys.executable, HEALTHCHECK, *arguments],
        cwd="/",
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_asks_gunicorn_on_its_health_port_with_an_allowed_host(gunicorn):
    """Django answers 400 to a Host it does not allow; the check sends the first allowed one."""
    server = gunicorn(
        WEB_HEALTH_PORT=str(free_port()), DJANGO_ALLOWED_HOSTS=".visits.example,127.0.0.1"
    )

    # WEB_BIND's port answers nothing here: only WEB_HEALTH_PORT can answer 200.
    environment = {**server.environment, "WEB_BIND": "127.0.0.1:1"}
    result = healthcheck(environment=environment)
    elsewhere = healthcheck(
        environment={**environment, "DJANGO_ALLOWED_HOSTS": "elsewhere.example"}
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "/healthz answered 200\n", "")
    assert (elsewhere.returncode, elsewhere.stdout) == (1, "/healthz answered 400\n")


def test_healthcheck_without_a_health_port_asks_the_port_of_web_bind(gunicorn):
    server = gunicorn()

    result = healthcheck("/readyz", environment=server.environment)

    assert (result.returncode, result.stdout, result.stderr) == (0, "/readyz answered 200\n", "")


def test_healthcheck_nothing_listening_is_unhealthy():
    result = healthcheck(environment={**os.environ, "WEB_BIND": f"127.0.0.1:{free_port()}"})

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "unhealthy: [Errno 111] Connection refused\n",
        "",
    )


def test_healthcheck_malformed_port_ends_it_with_gunicorns_one_line():
    result = healthcheck(environment={**os.environ, "WEB_HEALTH_PORT": "eighty"})

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Configuration error: WEB_HEALTH_PORT='eighty' is not a whole number of at least 0; "
        "correct it or unset it.\n",
    )


def test_healthcheck_malformed_bind_ends_it_with_gunicorns_one_line():
    environment = {k: v for k, v in os.environ.items() if k != "WEB_HEALTH_PORT"}

    result = healthcheck(environment={**environment, "WEB_BIND": "8080"})

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Configuration error: WEB_BIND='8080' is not a host:port address; write it as "
        "0.0.0.0:8080, or unset it.\n",
    )
