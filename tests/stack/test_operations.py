"""
Operating the stack through its faults: a lost env file, a volume of another
PostgreSQL major version, an outage that must not get web replaced, a stop
during start-up.
"""

import json
import secrets
import time

import pytest

from devservices.servers import free_port
from tests.stack.docker_cli import (
    LABEL_KEY,
    Stack,
    counts,
    docker,
    health,
    inspect,
    labelled,
    wait_healthy,
)

LOST_DB_ENV = (
    "error: {file} is missing but the volume {volume} already holds a database, which a new "
    "password would not reach; restore the file from a backup, or set a new password as "
    'docs/deployment.md "Lost an env file" shows.'
)
OTHER_MAJOR_VERSION = (
    "error: the volume {volume} holds a database of PostgreSQL {version}, which postgres:15 "
    "(PostgreSQL 15) would not start on, so nothing was changed; set POSTGRES_IMAGE back to "
    'the image that made it, or move the data as docs/operations.md "Moving to a newer '
    'PostgreSQL" says.'
)


def test_up_refuses_a_new_database_password_for_a_database_that_exists(stack):
    db_env = stack.env_files[0]
    db_env.unlink()

    output = stack.script("up", expect_success=False)
    still_serving = stack.get("/").status

    assert output.splitlines()[-1] == LOST_DB_ENV.format(
        file=db_env, volume=f"{stack.prefix}-pgdata"
    )
    assert not db_env.exists()
    assert still_serving == 200
    # docs/deployment.md's way back: a new password set inside db, then written to the file.
    password = secrets.token_hex(16)
    docker(
        "exec", "--user", "postgres", stack.db, "psql", "--command",
        f"ALTER ROLE postgres PASSWORD '{password}'",
    )  # fmt: skip
    db_env.write_text(f"POSTGRES_PASSWORD={password}\nDB_ADMIN_PASS={password}\n")
    db_env.chmod(0o600)
    accesses, visits = counts(stack)
    stack.up()
    assert counts(stack) == (accesses + 1, visits + 1)


def test_db_mounts_its_volume_where_postgres_15_declares_it(stack):
    """Where postgres:15 keeps its data, as before 18's layout: no anonymous volume beside it."""
    mounts = [
        (mount["Type"], mount.get("Name"), mount["Destination"])
        for mount in inspect(stack.db)["Mounts"]
    ]

    assert mounts == [("volume", f"{stack.prefix}-pgdata", "/var/lib/postgresql/data")]


@pytest.mark.parametrize(
    ("folder", "version"),
    [(".", "14"), ("18/docker", "18")],
    ids=["older-at-the-root", "18-in-its-own-layout"],
)
def test_up_refuses_a_volume_holding_another_major_version_and_changes_nothing(folder, version):
    """
    A database where images before 18 keep it (the volume's root), or where 18
    and later do (18/docker), of another major version than postgres:15's.
    """
    stack = Stack("visits-test-major", free_port())
    volume = f"{stack.prefix}-pgdata"
    stack.down(volumes=True)  # what an interrupted run left behind
    docker("volume", "create", "--label", f"{LABEL_KEY}={stack.prefix}", volume)

    def in_volume(script: str) -> str:
        return docker(
            "run", "--rm", "--network", "none", "--volume", f"{volume}:/volume",
            "--entrypoint", "sh", "postgres:15", "-c", script,
        )  # fmt: skip

    try:
        in_volume(f"mkdir -p /volume/{folder} && echo {version} > /volume/{folder}/PG_VERSION")
        before = in_volume("find /volume | sort")
        output = stack.script("up", expect_success=False)
        left = [labelled(kind, stack.prefix) for kind in ("container", "network", "volume")]
        env_files = [file.name for file in stack.env_files if file.exists()]
        after = in_volume("find /volume | sort")
    finally:
        stack.down(volumes=True)

    assert output.splitlines()[-1] == OTHER_MAJOR_VERSION.format(volume=volume, version=version)
    assert (left, env_files) == ([[], [], [volume]], [])
    assert after == before


def test_up_with_lost_cache_and_web_env_files_makes_new_secrets_that_work(stack):
    cache_env, web_env = stack.env_files[1], stack.env_files[2]
    before = cache_env.read_text(), web_env.read_text()
    accesses, visits = counts(stack)
    cache_env.unlink()
    web_env.unlink()

    output = stack.up()

    assert (cache_env.read_text(), web_env.read_text()) != before
    assert f"Generated Redis's password into {cache_env}" in output
    assert counts(stack) == (accesses + 1, visits + 1)


def test_cache_away_leaves_web_healthy_and_ready_as_degraded(stack):
    """Without Redis the page still answers, so web stays in traffic and is not replaced."""
    docker("stop", stack.cache)
    try:
        time.sleep(10)  # longer than web's health retries (3 of 2 s) would allow
        web_health = health(stack.web)
        ready = stack.get("/readyz")
        restarts = inspect(stack.web)["RestartCount"]
    finally:
        docker("start", stack.cache)
        wait_healthy(stack.cache)

    assert web_health == "healthy"
    assert ready.status == 200
    assert json.loads(ready.body) == {
        "status": "degraded",
        "database": {"engine": "PostgreSQL", "state": "up"},
        "cache": {"engine": "Redis", "state": "down"},
        "counter": None,
    }
    assert restarts == 0


def test_stop_during_start_up_ends_it_at_once(stack):
    name = f"{stack.prefix}-starting"
    docker(
        "run", "--detach", "--name", name, "--network", f"{stack.prefix}-net",
        "--env", "DB_HOST=nowhere", "--env", "CACHE_HOST=nowhere", stack.image,
    )  # fmt: skip
    try:
        time.sleep(3)  # waiting for a database that does not answer
        started = time.monotonic()
        docker("stop", "--time", "20", name)
        stopped_after = time.monotonic() - started
        exit_code = inspect(name)["State"]["ExitCode"]
    finally:
        docker("rm", "--force", name)

    assert stopped_after < 3
    assert exit_code == 143
