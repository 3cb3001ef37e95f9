"""manage.py wait_for_services, run as the entrypoint runs it, with WAIT_TIMEOUT."""

import os
import subprocess
import sys

import pytest

from devservices.servers import free_port
from tests.support.servers import PROJECT_ROOT

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("real_services")]


def wait_for_services(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    # The maintenance database: the command only asks PostgreSQL to answer a query.
    return subprocess.run(
        [sys.executable, "manage.py", "wait_for_services", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DB_NAME": "postgres", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_wait_for_services_both_up_says_so_for_each():
    result = wait_for_services()

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "PostgreSQL is up.\nRedis is up.\n",
        "",
    )


def test_wait_for_services_gives_up_after_wait_timeout_naming_the_cache_address():
    port = free_port()

    result = wait_for_services(CACHE_HOST="127.0.0.1", CACHE_PORT=str(port), WAIT_TIMEOUT="1.5")

    assert result.returncode == 1
    assert result.stdout == "PostgreSQL is up.\n"
    assert result.stderr.startswith("CommandError: Redis did not answer within 1.5 seconds (")
    assert result.stderr.endswith(
        f"); check that it runs at redis://127.0.0.1:{port}/{os.environ.get('CACHE_DB', '0')} "
        "as CACHE_HOST, CACHE_PORT and CACHE_DB say.\n"
    )


def test_wait_for_services_timeout_option_wins_over_wait_timeout():
    result = wait_for_services("--timeout", "1", CACHE_PORT=str(free_port()), WAIT_TIMEOUT="x")

    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: Redis did not answer within 1 seconds (")


def test_wait_for_services_malformed_wait_timeout_stops_it_with_one_line():
    result = wait_for_services(WAIT_TIMEOUT="soon")

    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Configuration error: WAIT_TIMEOUT='soon' is not a positive number of seconds; "
        "correct it or unset it.\n",
    )


def test_wait_for_services_database_only_waits_for_no_cache():
    result = wait_for_services("--database-only", "--timeout", "1", CACHE_PORT=str(free_port()))

    assert (result.returncode, result.stdout, result.stderr) == (0, "PostgreSQL is up.\n", "")
